"""The default schedules. Editable (and disable-able) in the admin afterwards."""
from django.conf import settings
from django.db import migrations

from jobs.scheduling import default_schedules

create, remove = default_schedules(
    ("Hourly per-user analytics", "analytics.fan_out", {"cron": "0 * * * *"}),
    ("Daily operations report", "reports.daily_report", {"cron": "0 6 * * *"}),
    ("Credit reconciliation", "payouts.reconcile_credits", {"cron": "15 */6 * * *"}),
    ("Daily payout run", "payouts.daily_run", {"cron": "0 9 * * *"}),
    ("Retention cleanup", "jobs.cleanup", {"interval_seconds": settings.QUEUE_CLEANUP_INTERVAL}),
)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0006_schedules")]
    operations = [migrations.RunPython(create, remove)]
