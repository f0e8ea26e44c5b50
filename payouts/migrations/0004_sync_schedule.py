"""The daily payee status synchronisation."""
from django.db import migrations

from jobs.scheduling import default_schedules

create, remove = default_schedules(("Payee status sync", "integrations.sync_payees", {"cron": "0 3 * * *"}))


class Migration(migrations.Migration):
    dependencies = [("payouts", "0003_interest_schedule")]
    operations = [migrations.RunPython(create, remove)]
