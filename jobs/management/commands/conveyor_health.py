import json

from django.core.management.base import BaseCommand

from jobs.ops.selectors import health


class Command(BaseCommand):
    help = "Print the job platform's health as JSON (the checks of /health/ready); exit 0 when ok, 1 when degraded, 2 when down."

    def handle(self, *args, **options):
        report = health()
        self.stdout.write(json.dumps(report))
        if report["status"] != "ok":
            raise SystemExit(1 if report["status"] == "degraded" else 2)
