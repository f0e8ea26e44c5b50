"""Once created default schedules; they are declared in code now (each app's schedules.py) and
created after every migrate (docs/decisions.md 40). Kept, empty, so the migration graph stays."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("jobs", "0007_default_schedules")]
    operations = []
