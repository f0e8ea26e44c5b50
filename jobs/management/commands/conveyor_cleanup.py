from django.core.management.base import BaseCommand

from jobs.ops import retention


class Command(BaseCommand):
    help = "Run the retention cleanup now (the scheduler also enqueues it every QUEUE_CLEANUP_INTERVAL)."

    def handle(self, *args, **options):
        deleted = retention.cleanup()
        self.stdout.write(f"deleted {deleted['succeeded']} succeeded and {deleted['failed']} cancelled job(s)")
