from django.core.management.base import BaseCommand, CommandError

from jobs.core.errors import InvalidJob, JobStateError
from jobs.core.queues import UnknownQueue
from jobs.core.states import TERMINAL
from jobs.ops.control import queue_clean, queue_pause, queue_resume
from jobs.ops.selectors import queue_stats


class Command(BaseCommand):
    help = (
        "Queues: conveyor_queue list | pause NAME [--reason R] | resume NAME | "
        "clean NAME [--state succeeded|cancelled|dead] [--grace SECONDS] [--limit N]"
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "pause", "resume", "clean"])
        parser.add_argument("queue", nargs="?")
        parser.add_argument("--reason", default="")
        parser.add_argument("--state", default="succeeded", choices=sorted(TERMINAL), help="clean: which finished jobs (default succeeded)")
        parser.add_argument("--grace", type=int, default=3600, help="clean: only jobs finished more than this many seconds ago")
        parser.add_argument("--limit", type=int, default=1000, help="clean: at most this many jobs")

    def handle(self, *args, action, queue, reason, **options):
        if action == "list":
            for row in queue_stats():
                flags = "PAUSED" if row["paused"] else ""
                self.stdout.write(
                    f"{row['name']:18} waiting {row['waiting']:>6}  running {row['running']:>4}/{row['concurrency'] or '-':<3} "
                    f"retrying {row['retrying']:>5}  dead {row['dead']:>5}  {row['succeeded_per_min']:>7}/min  {flags}"
                )
            return
        if not queue:
            raise CommandError(f"{action} needs a queue name")
        if action == "clean":
            if options["grace"] < 0 or options["limit"] < 1:
                raise CommandError("--grace must be 0 or more and --limit 1 or more")
            try:
                ids = queue_clean(
                    queue, state=options["state"], grace=options["grace"], limit=options["limit"], actor="system:manage.py", reason=reason
                )
            except (UnknownQueue, JobStateError) as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"queue {queue}: deleted {len(ids)} {options['state']} job(s)")
            return
        service = queue_pause if action == "pause" else queue_resume
        try:
            service(queue, actor="system:manage.py", reason=reason)
        except InvalidJob as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"queue {queue} {'paused' if action == 'pause' else 'resumed'}")
