from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


def ensure_queue_rows(sender, **kwargs) -> None:
    """One QueueState row per configured queue, so the admin lists them all."""
    from django.conf import settings

    from jobs.models import QueueState

    QueueState.objects.bulk_create([QueueState(name=name) for name in settings.CONVEYOR_QUEUES], ignore_conflicts=True)


def sync_schedules(sender, **kwargs) -> None:
    """The schedules the apps declare in code (their schedules.py), after every migrate."""
    import logging

    from django.db import DatabaseError

    from jobs.scheduling.defaults import sync_default_schedules

    try:
        sync_default_schedules()
    except DatabaseError as exc:  # migrated back to before the schedules table had its columns
        logging.getLogger(__name__).warning("default schedules not synced: %s", exc)


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        post_migrate.connect(ensure_queue_rows, sender=self)
        post_migrate.connect(sync_schedules, sender=self)
        # Every installed app's tasks.py registers its tasks on start-up, in
        # web, worker and scheduler processes alike.
        autodiscover_modules("tasks")
        import jobs.api.schema  # noqa: F401  (the token scheme in the OpenAPI schema)
        import jobs.checks  # noqa: F401  (registers the queue and task checks)
        from django.conf import settings
        from importlib import import_module

        for module in settings.CONVEYOR_TASK_MODULES:
            import_module(module)
