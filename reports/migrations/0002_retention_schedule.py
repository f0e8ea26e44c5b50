"""The schedule that deletes report files past REPORT_RETENTION."""
from django.db import migrations


def create(apps, schema_editor):
    from jobs import scheduling

    Schedule = apps.get_model("jobs", "Schedule")
    schedule = Schedule(name="Report file retention", task_name="reports.expire_files", timezone="UTC", interval_seconds=3600)
    schedule.next_fire_at = scheduling.next_fire_after(schedule, scheduling.now())
    schedule.save()


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name="Report file retention").delete()


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("jobs", "0007_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
