from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API toolkit every app's endpoints use: token authentication, strict parsing,
    the one exception handler, pagination, the OpenAPI helpers.

    Nothing is imported at start-up: the OpenAPI helpers (api.schema, which registers the token
    scheme with drf-spectacular) load with the views that use them, so processes that serve no
    API (workers, schedulers) do not carry drf-spectacular and what it pulls in (~20 MB)."""

    name = "api"
    verbose_name = "API"
