"""`manage.py conveyor_worker [queue ...]`: a worker for the given queues, or all of them.

django-rq's `rqworker` with the worker class from settings (RQ["WORKER_CLASS"]) and, when no
queue is named, every declared queue (jobs/queues.py), so the Procfile does not repeat either.
Every `rqworker` option (--burst, --max-jobs, --name, ...) works the same.
"""

from django.core.checks import Tags
from django_rq.management.commands.rqworker import Command as RQWorkerCommand

from jobs.core.queues import queue_names


class Command(RQWorkerCommand):
    # The checks a worker needs: the models and the platform's own (queues, tasks, schedules).
    # Not the URL checks, which import every view, the admin and the API schema tools: a worker
    # would carry them (~25 MB) for nothing. `manage.py check` still runs everything.
    requires_system_checks = [Tags.models, Tags.database, "conveyor"]
    help = (
        "Run a Conveyor worker on the given queues, or on every queue when none is named "
        "(django-rq's rqworker with the worker class from settings)."
    )

    def handle(self, *args, **options):
        return super().handle(*(args or queue_names()), **options)
