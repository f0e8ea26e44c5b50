# The Notification model moves to the notifications app. Its table stays (jobs_notification):
# only Django's model state changes here; notifications/migrations/0001 takes the model over.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0015_auditentry_moves_to_audit"),
        # The shipped groups were given jobs.view_notification and jobs.change_notification
        # while the model lived here.
        ("access", "0001_groups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Notification")], database_operations=[]),
    ]
