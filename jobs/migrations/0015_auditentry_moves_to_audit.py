# The AuditEntry model moves to the audit app. Its table stays (jobs_auditentry): only
# Django's model state changes here; audit/migrations/0001 takes the model over.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0014_schedule_declared_timing"),
        # The shipped groups were given jobs.view_auditentry while the model lived here.
        ("access", "0001_groups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AuditEntry")], database_operations=[]),
    ]
