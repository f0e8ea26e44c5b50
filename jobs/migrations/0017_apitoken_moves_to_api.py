# The ApiToken model moves to the api app. Its table stays (jobs_apitoken): only Django's
# model state changes here; api/migrations/0001 takes the model over.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0016_notification_moves_to_notifications"),
        ("access", "0001_groups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="ApiToken")], database_operations=[]),
    ]
