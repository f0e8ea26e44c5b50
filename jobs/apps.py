from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Every installed app's tasks.py registers its tasks on start-up, in
        # web, worker and scheduler processes alike.
        autodiscover_modules("tasks")
        from django.conf import settings
        from importlib import import_module

        for module in settings.CONVEYOR_TASK_MODULES:
            import_module(module)
