"""Schedules the payouts app needs besides the daily run and reconciliation (jobs 0007)."""
from django.db import migrations

from jobs.scheduling import default_schedules

create, remove = default_schedules(
    ("Recurring payouts", "payouts.recurring_due", {"interval_seconds": 60}),
    ("Payout recovery", "payouts.recover", {"interval_seconds": 300}),
)


class Migration(migrations.Migration):
    dependencies = [("payouts", "0001_initial"), ("jobs", "0007_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
