from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from jobs.core.discovery import app_modules
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue


class Command(BaseCommand):
    help = "Create the demo admin login (demo/demo), a few demo jobs and each app's demo data (its demo.py), once. Refuses to run in production."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            self.stderr.write("seed_demo does nothing when DJANGO_ENV=production")
            return
        User = get_user_model()
        if not User.objects.filter(username="demo").exists():
            User.objects.create_superuser("demo", "demo@example.com", "demo")
            self.stdout.write("created superuser demo / demo")
        if not JobRecord.objects.exists():
            enqueue("demo.sleep", kwargs={"seconds": 6, "steps": 6})
            enqueue("demo.flaky", kwargs={"fail_times": 2})
            enqueue("demo.fail", kwargs={"message": "demo: this job exhausts its retries"})
            for _ in range(5):
                enqueue("demo.noop")
            self.stdout.write("enqueued demo jobs: a slow one, a flaky one, a failing one and five no-ops")
        for module in app_modules("demo"):  # each app's demo data (payouts/demo.py, ...)
            module.seed(self.stdout)
