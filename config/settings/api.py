"""The REST API: authentication, limits, throttling, the OpenAPI schema (docs/api.md)."""

from __future__ import annotations

from config.settings.environment import env

# --- REST API (/api/v1/, docs/api.md) ------------------------------------------------
# The largest request body the API reads, in bytes (JSON; imports: IMPORT_MAX_BYTES). Larger
# ones are answered 413 before they are parsed.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", 2**20, minimum=1024, maximum=64 * 2**20, unit="bytes")
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Failed token authentications from one address: after API_TOKEN_FAILURE_LIMIT within
# API_TOKEN_FAILURE_WINDOW seconds, that address is answered 429 until the window passes.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", 20, minimum=1)
API_TOKEN_FAILURE_WINDOW = env.duration("API_TOKEN_FAILURE_WINDOW", 600, minimum=1, maximum=86400, whole=True)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.auth.TokenAuthentication",  # API clients: Authorization: Token <key>
        "rest_framework.authentication.SessionAuthentication",  # the browsable API, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle", "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": env.str("API_THROTTLE_ANON", "60/min"), "user": env.str("API_THROTTLE_USER", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "api.handlers.exception_handler",
}
# OpenAPI 3 schema at /api/v1/schema/, Swagger UI at /api/v1/docs/ (docs/api.md).
SPECTACULAR_SETTINGS = {
    "TITLE": "Conveyor API",
    "DESCRIPTION": "Queues, jobs, the dead-letter queue, payouts, reports and imports. "
    "Authenticate with `Authorization: Token <key>` (or a browser session). "
    "Every refused input is a 400 naming the field.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.document_common_answers"],
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "jobs.core.states.State",
        "CleanStateEnum": ["cancelled", "dead", "succeeded"],
        "PriorityNameEnum": ["critical", "high", "normal", "low"],
        "PriorityEnum": [(1, "Critical"), (2, "High"), (3, "Normal"), (4, "Low")],
        "PayoutStateEnum": "payouts.models.Payout.State",
        "ReportStateEnum": "reports.models.Report.State",
        "ImportStateEnum": "reports.models.Import.State",
    },
}
