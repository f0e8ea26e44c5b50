"""The monthly interest posting (it posts nothing while PAYEE_INTEREST_RATE is 0)."""
from django.db import migrations

from jobs.scheduling import default_schedules

create, remove = default_schedules(("Monthly interest posting", "calculations.post_interest", {"cron": "0 2 1 * *"}))


class Migration(migrations.Migration):
    dependencies = [("payouts", "0002_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
