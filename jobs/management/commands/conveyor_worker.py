"""`manage.py conveyor_worker [queue ...]`: a worker for the given queues, or all of them.

django-rq's `rqworker` with the worker class from settings (RQ["WORKER_CLASS"]) and, when no
queue is named, every declared queue (jobs/queues.py), so the Procfile does not repeat either.
Every `rqworker` option (--burst, --max-jobs, --name, ...) works the same.
"""

from django_rq.management.commands.rqworker import Command as RQWorkerCommand

from jobs.core.queues import queue_names


class Command(RQWorkerCommand):
    help = (
        "Run a Conveyor worker on the given queues, or on every queue when none is named "
        "(django-rq's rqworker with the worker class from settings)."
    )

    def handle(self, *args, **options):
        return super().handle(*(args or queue_names()), **options)
