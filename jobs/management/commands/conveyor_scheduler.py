import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs import scheduler


class Command(BaseCommand):
    help = (
        "Run the scheduler process: every DISPATCH_INTERVAL seconds, send pending jobs to Redis, "
        "start scheduled and retrying jobs whose time has come, and re-send queued jobs Redis lost. "
        "Any number may run side by side."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None, help="Seconds between sweeps (default DISPATCH_INTERVAL).")

    def handle(self, *args, interval=None, **options):
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.append(True))
        interval = interval or settings.DISPATCH_INTERVAL
        self.stdout.write(f"scheduler: dispatching every {interval}s")
        scheduler.run_forever(interval, stop=lambda: bool(stopping))
        self.stdout.write("scheduler: stopped")
