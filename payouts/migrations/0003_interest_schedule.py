"""The monthly interest posting (it posts nothing while PAYEE_INTEREST_RATE is 0)."""
from django.db import migrations


def create(apps, schema_editor):
    from jobs import scheduling

    Schedule = apps.get_model("jobs", "Schedule")
    schedule = Schedule(name="Monthly interest posting", task_name="calculations.post_interest", timezone="UTC", cron="0 2 1 * *")
    schedule.next_fire_at = scheduling.next_fire_after(schedule, scheduling.now())
    schedule.save()


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name="Monthly interest posting").delete()


class Migration(migrations.Migration):
    dependencies = [("payouts", "0002_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
