"""The schedule that deletes report files past REPORT_RETENTION."""
from django.db import migrations

from jobs.scheduling import default_schedules

create, remove = default_schedules(("Report file retention", "reports.expire_files", {"interval_seconds": 3600}))


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("jobs", "0007_default_schedules")]
    operations = [migrations.RunPython(create, remove)]
