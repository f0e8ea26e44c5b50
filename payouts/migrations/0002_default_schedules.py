"""Schedules the payouts app needs besides the daily run and reconciliation (jobs 0007)."""
from django.db import migrations

SCHEDULES = [
    ("Recurring payouts", "payouts.recurring_due", 60),
    ("Payout recovery", "payouts.recover", 300),
]


def create(apps, schema_editor):
    from jobs import scheduling

    Schedule = apps.get_model("jobs", "Schedule")
    moment = scheduling.now()
    for name, task_name, interval in SCHEDULES:
        schedule = Schedule(name=name, task_name=task_name, timezone="UTC", interval_seconds=interval)
        schedule.next_fire_at = scheduling.next_fire_after(schedule, moment)
        schedule.save()


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name__in=[name for name, _, _ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("payouts", "0001_initial"), ("jobs", "0007_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
