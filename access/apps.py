from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Access"

    def ready(self):
        from access import checks  # noqa: F401, PLC0415  (app loading: registers the route-group checks once the registry is ready)
