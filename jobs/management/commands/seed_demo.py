from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from jobs.models import JobRecord
from jobs.services import enqueue


class Command(BaseCommand):
    help = "Create the demo admin login (demo/demo) and a few demo jobs, once. Refuses to run in production."

    def handle(self, *args, **options):
        from django.conf import settings

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
