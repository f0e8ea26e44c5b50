from django.core.management.base import BaseCommand, CommandError

from jobs.selectors import queue_stats
from jobs.services import InvalidJob, queue_pause, queue_resume


class Command(BaseCommand):
    help = "Pause or resume a queue, or list queues: conveyor_queue list | pause NAME [--reason R] | resume NAME"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "pause", "resume"])
        parser.add_argument("queue", nargs="?")
        parser.add_argument("--reason", default="")

    def handle(self, *args, action, queue, reason, **options):
        if action == "list":
            for row in queue_stats():
                flags = "PAUSED" if row["paused"] else ""
                self.stdout.write(
                    f"{row['name']:18} waiting {row['waiting']:>6}  running {row['running']:>4}/{row['concurrency'] or '-':<3} "
                    f"retrying {row['retrying']:>5}  dead {row['dead']:>5}  {flags}"
                )
            return
        if not queue:
            raise CommandError(f"{action} needs a queue name")
        service = queue_pause if action == "pause" else queue_resume
        try:
            service(queue, actor="system:manage.py", reason=reason)
        except InvalidJob as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"queue {queue} {'paused' if action == 'pause' else 'resumed'}")
