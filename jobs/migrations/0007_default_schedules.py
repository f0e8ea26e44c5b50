"""The default schedules. Editable (and disable-able) in the admin afterwards."""
from django.conf import settings
from django.db import migrations


def create(apps, schema_editor):
    from jobs import scheduling

    Schedule = apps.get_model("jobs", "Schedule")
    defaults = [
        ("Hourly per-user analytics", "analytics.fan_out", {"cron": "0 * * * *"}),
        ("Daily operations report", "reports.daily_report", {"cron": "0 6 * * *"}),
        ("Credit reconciliation", "payouts.reconcile_credits", {"cron": "15 */6 * * *"}),
        ("Daily payout run", "payouts.daily_run", {"cron": "0 9 * * *"}),
        ("Retention cleanup", "jobs.cleanup", {"interval_seconds": settings.QUEUE_CLEANUP_INTERVAL}),
    ]
    moment = scheduling.now()
    for name, task_name, timing in defaults:
        schedule = Schedule(name=name, task_name=task_name, timezone="UTC", **timing)
        schedule.next_fire_at = scheduling.next_fire_after(schedule, moment)
        schedule.save()


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(
        name__in=["Hourly per-user analytics", "Daily operations report", "Credit reconciliation", "Daily payout run", "Retention cleanup"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0006_schedules")]
    operations = [migrations.RunPython(create, remove)]
