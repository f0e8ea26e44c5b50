from importlib import import_module

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Django app loading: these modules import models, which can be imported only once the
        # app registry is ready, so not at the top of apps.py.
        from jobs import checks, receivers  # noqa: F401, PLC0415  (checks: registers the queue, task and schedule checks)

        post_migrate.connect(receivers.ensure_queue_rows, sender=self)
        post_migrate.connect(receivers.sync_schedules, sender=self)
        # Every installed app's tasks.py registers its tasks on start-up, in
        # web, worker and scheduler processes alike.
        autodiscover_modules("tasks")
        for module in settings.CONVEYOR_TASK_MODULES:
            import_module(module)
        # Django's standard Tasks API on Conveyor (TASKS in settings): its tasks are found by
        # module path when their jobs run.
        import_module("jobs.standard_tasks")
