import json

from django.core.management.base import BaseCommand, CommandError

from jobs.core.errors import InvalidJob
from jobs.core.queues import Priority
from jobs.ops.enqueue import enqueue


class Command(BaseCommand):
    help = "Enqueue a job by task name, e.g. enqueue_job demo.sleep --kwargs '{\"seconds\": 5}'"

    def add_arguments(self, parser):
        parser.add_argument("task")
        parser.add_argument("--args", dest="job_args", default="[]", help="JSON list of positional arguments")
        parser.add_argument("--kwargs", dest="job_kwargs", default="{}", help="JSON object of keyword arguments")
        parser.add_argument("--queue")
        parser.add_argument("--priority", choices=[p.name.lower() for p in Priority])
        parser.add_argument("--delay", type=float, help="Seconds to wait before the job may start")
        parser.add_argument("--count", type=int, default=1, help="Enqueue this many copies")
        parser.add_argument("--dedup-key", help="While a job with this key is active, return it instead of a new one")

    def handle(self, *args, **o):
        try:
            job_args, job_kwargs = json.loads(o["job_args"]), json.loads(o["job_kwargs"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--args/--kwargs must be JSON: {exc}") from None
        options = {"queue": o["queue"], "delay": o["delay"], "dedup_key": o["dedup_key"]}
        if o["priority"]:
            options["priority"] = Priority[o["priority"].upper()]
        try:
            for _ in range(o["count"]):
                job = enqueue(o["task"], job_args, job_kwargs, **options)
        except InvalidJob as exc:
            raise CommandError(str(exc)) from None
        note = " (an active job with this dedup key already existed)" if getattr(job, "deduplicated", False) else ""
        self.stdout.write(f"enqueued {o['count']} x {o['task']}; last job id {job.pk} ({job.state}){note}")
