from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API toolkit every app's endpoints use: token authentication, strict parsing,
    the one exception handler, pagination, the OpenAPI helpers."""

    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        # Django app loading: the schema module registers the token scheme with drf-spectacular
        # and imports the auth module, which imports models (importable only once apps are ready).
        from api import schema  # noqa: F401, PLC0415
