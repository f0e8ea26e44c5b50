"""Conveyor settings. The environment is read here, once; see .env.example."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

from config import runtime
from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()
# What a running `make run` / `make cluster` in this checkout recorded ({} when none runs):
# used only for what the environment leaves unset, so a second terminal reaches the same services.
# Never for tests or a deploy that names its environment.
LOCAL_RUNTIME = runtime.read(BASE_DIR) if env.str("DJANGO_ENV", "") in ("", "local") else {}

# --- Environment -----------------------------------------------------------
# production (the default: what a deploy gets unless it says otherwise), local (make run,
# make cluster: DEBUG allowed, embedded services) or test (make test, CI).
DJANGO_ENV = env.str("DJANGO_ENV", LOCAL_RUNTIME.get("DJANGO_ENV", "production"))
if DJANGO_ENV not in ("local", "test", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} must be local, test or production.")
PRODUCTION = DJANGO_ENV == "production"
LOCAL = DJANGO_ENV == "local"

if PRODUCTION:
    if not env.str("SECRET_KEY", ""):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (DJANGO_ENV is production, the default). On a developer's machine, start `make run` "
            "in another terminal (its services are found from here), or set DJANGO_ENV=local."
        )
    SECRET_KEY = env.str("SECRET_KEY")  # no default in production: start-up fails naming it
else:
    SECRET_KEY = env.str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
# DEBUG shows settings and source on error pages: only ever on a developer's own machine.
DEBUG = env.bool("DEBUG", LOCAL)
if DEBUG and not LOCAL:
    raise ImproperlyConfigured(f"DEBUG=true is refused when DJANGO_ENV={DJANGO_ENV}; only DJANGO_ENV=local runs with DEBUG.")
if PRODUCTION:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # required: the host names this deploy answers to
else:
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTPS and browser security (docs/deploy.md, "Security settings") -----------------
# Production defaults assume what a PaaS gives: TLS ends at the platform's router, which sets
# X-Forwarded-Proto. `manage.py check --deploy` passes with these (tests/test_security_settings.py).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]  # probes and scrapers inside the platform speak plain HTTP
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO" if PRODUCTION else "")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
# Seconds browsers remember "HTTPS only" for this host (0: off). A year by default; see
# docs/deploy.md before the first deploy on a domain that still serves plain HTTP somewhere.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0, maximum=2 * 365 * 24 * 3600,
                              unit="seconds")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Proxies in front of the web processes that append to X-Forwarded-For (a PaaS router: 1).
# Used to find the client's address for login and token throttling; 0 trusts REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0, minimum=0, maximum=5)


def _redis_url() -> str:
    """REDIS_URL wins; the seeds' REDIS_HOST/PORT/PASSWORD/DB are accepted too."""
    url = env.redis_url("REDIS_URL", "")
    if url:
        return url
    host = env.str("REDIS_HOST", "")
    if not host and LOCAL_RUNTIME.get("REDIS_URL"):
        return LOCAL_RUNTIME["REDIS_URL"]
    if not host:
        raise ImproperlyConfigured(
            "REDIS_URL must be set, and no `make run` or `make cluster` is running in this checkout to take it from. "
            "Start `make run` in another terminal (it starts an embedded Redis and records it for commands like this one), "
            "or set REDIS_URL."
        )
    port = env.int("REDIS_PORT", 6379, minimum=1)
    password = env.str("REDIS_PASSWORD", "")
    db = env.int("REDIS_DB", 0, minimum=0)
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


REDIS_URL = _redis_url()

# --- Job platform knobs (seconds everywhere; the seeds used milliseconds) ---
JOB_TIMEOUT = env.int("JOB_TIMEOUT", 300, minimum=1)
# The largest arguments a job may carry, in bytes of JSON: jobs take ids, not data.
JOB_ARGS_MAX_BYTES = env.int("JOB_ARGS_MAX_BYTES", 64 * 1024, minimum=1024, maximum=16 * 2**20, unit="bytes")
JOB_RETRY_ATTEMPTS = env.int("JOB_RETRY_ATTEMPTS", 3, minimum=0)  # retries after the first try
JOB_RETRY_DELAY = env.int("JOB_RETRY_DELAY", 5, minimum=0)
MAX_QUEUE_CONCURRENCY = env.int("MAX_QUEUE_CONCURRENCY", env.int("QUEUE_CONCURRENCY", 5, minimum=1), minimum=1)
WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", 2, minimum=1)
WORKER_INSTANCES = env.int("WORKER_INSTANCES", 1, minimum=1)
FAILED_JOB_RETENTION = env.int("FAILED_JOB_RETENTION", 7 * 24 * 3600, minimum=0)
QUEUE_CLEANUP_INTERVAL = env.int("QUEUE_CLEANUP_INTERVAL", 3600, minimum=1)
ENABLE_CORRELATION_IDS = env.bool("ENABLE_CORRELATION_IDS", True)
# Per-minute rollups for the dashboard and /metrics (jobs/metrics.py): made by the scheduler
# every METRICS_ROLLUP_INTERVAL seconds, kept METRICS_RETENTION seconds.
METRICS_ROLLUP_INTERVAL = env.float("METRICS_ROLLUP_INTERVAL", 15.0, minimum=1)
METRICS_RETENTION = env.int("METRICS_RETENTION", 7 * 24 * 3600, minimum=3600)
# /metrics (Prometheus): a scraper sends "Authorization: Bearer <METRICS_TOKEN>"; the API token
# ("Authorization: Token <key>") of a user with jobs.view_queuestate also works. Empty: tokens only.
METRICS_TOKEN = env.str("METRICS_TOKEN", "")
USE_DISTRIBUTED_SCHEDULER = env.bool("USE_DISTRIBUTED_SCHEDULER", True)
SESSION_TTL = env.int("SESSION_TTL", 24 * 3600, minimum=60)
DISPATCH_INTERVAL = env.float("DISPATCH_INTERVAL", 1.0, minimum=0.05)
# A worker writes a heartbeat every WORKER_HEARTBEAT_INTERVAL; one silent for WORKER_LOST_AFTER
# is dead, and its running job is rescued (recorded as "worker lost" and retried by its policy).
WORKER_HEARTBEAT_INTERVAL = env.float("WORKER_HEARTBEAT_INTERVAL", 5.0, minimum=0.1)
WORKER_LOST_AFTER = env.float("WORKER_LOST_AFTER", 20.0, minimum=0.5)
if WORKER_LOST_AFTER < 2 * WORKER_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("WORKER_LOST_AFTER must be at least twice WORKER_HEARTBEAT_INTERVAL.")
# After SIGTERM a busy worker finishes its job for up to this long, then stops (the job is retried).
WORKER_SHUTDOWN_GRACE = env.float("WORKER_SHUTDOWN_GRACE", 25.0, minimum=0)
# Testing only: run the schedulers' clock at a different place and speed, "START,ANCHOR,SPEED"
# (simulated epoch seconds at real epoch ANCHOR, SPEED simulated seconds per real second).
SCHEDULER_CLOCK = env.str("SCHEDULER_CLOCK", "")
if SCHEDULER_CLOCK:
    try:
        _start, _anchor, _speed = (float(v) for v in SCHEDULER_CLOCK.split(","))
        assert _speed > 0
    except (ValueError, AssertionError):
        raise ImproperlyConfigured(f"SCHEDULER_CLOCK={SCHEDULER_CLOCK!r} must be START,ANCHOR,SPEED (epoch seconds, speed > 0).") from None
# Extra modules whose tasks to register at start-up (the reliability tests use tests.sample_tasks).
CONVEYOR_TASK_MODULES = env.list("CONVEYOR_TASK_MODULES", [])

# --- Payouts (docs/payouts.md) -----------------------------------------------
# A payout waits for staff approval when it, plus the payee's payouts of the last
# PAYOUT_APPROVAL_WINDOW seconds that nobody approved, exceeds PAYOUT_APPROVAL_THRESHOLD (so
# splitting an amount does not skip the approval). A request not approved within
# PAYOUT_APPROVAL_TTL seconds expires and its hold on the balance is released.
PAYOUT_APPROVAL_THRESHOLD = env.decimal("PAYOUT_APPROVAL_THRESHOLD", Decimal("1000.00"), minimum=Decimal("0"))
PAYOUT_APPROVAL_WINDOW = env.int("PAYOUT_APPROVAL_WINDOW", 24 * 3600, minimum=0, maximum=31 * 24 * 3600, unit="seconds")
PAYOUT_APPROVAL_TTL = env.int("PAYOUT_APPROVAL_TTL", 30 * 60, minimum=1)
# After this many failed calls to the primary provider for one payout, it goes to the fallback.
PAYOUT_FALLBACK_AFTER = env.int("PAYOUT_FALLBACK_AFTER", 3, minimum=1)
PAYOUT_PRIMARY_PROVIDER = env.str("PAYOUT_PRIMARY_PROVIDER", "sandbox")
PAYOUT_FALLBACK_PROVIDER = env.str("PAYOUT_FALLBACK_PROVIDER", "sandbox_backup")
# Fernet key for payout method details at rest; derived from SECRET_KEY when empty.
PAYOUT_ENCRYPTION_KEY = env.str("PAYOUT_ENCRYPTION_KEY", "")
# The sandbox providers: latency in seconds, chance of an error before the transfer, chance
# of a timeout *after* it (the money moved but the caller hears nothing). Per provider:
# SANDBOX_<NAME>_LATENCY etc. override these for one of them (e.g. SANDBOX_SANDBOX_ERROR_RATE).
SANDBOX_LATENCY = env.float("SANDBOX_LATENCY", 0.0, minimum=0)
SANDBOX_ERROR_RATE = env.float("SANDBOX_ERROR_RATE", 0.0, minimum=0)
SANDBOX_TIMEOUT_RATE = env.float("SANDBOX_TIMEOUT_RATE", 0.0, minimum=0)
SANDBOX_PROVIDERS = {
    name: {
        "latency": env.float(f"SANDBOX_{name.upper()}_LATENCY", SANDBOX_LATENCY, minimum=0),
        "error_rate": env.float(f"SANDBOX_{name.upper()}_ERROR_RATE", SANDBOX_ERROR_RATE, minimum=0),
        "timeout_rate": env.float(f"SANDBOX_{name.upper()}_TIMEOUT_RATE", SANDBOX_TIMEOUT_RATE, minimum=0),
    }
    for name in ("sandbox", "sandbox_backup")
}
# Interest credited monthly on each payee's balance at the month's end (annual rate, e.g. 0.02 for
# 2 %); 0 turns the posting off. Posted once per payee and month (docs/payouts.md).
PAYEE_INTEREST_RATE = env.decimal("PAYEE_INTEREST_RATE", Decimal("0"), minimum=Decimal("0"))
# Where payee status (account open or closed) comes from: an adapter class (payouts/sync.py).
PAYEE_STATUS_SOURCE = env.str("PAYEE_STATUS_SOURCE", "payouts.sync.SandboxBankDirectory")
PAYOUT_PROVIDERS = {
    "sandbox": "payouts.providers.SandboxProvider",
    "sandbox_backup": "payouts.providers.SandboxProvider",
}
for _name in (PAYOUT_PRIMARY_PROVIDER, PAYOUT_FALLBACK_PROVIDER):
    if _name not in PAYOUT_PROVIDERS:
        raise ImproperlyConfigured(f"payout provider {_name!r} is not one of {sorted(PAYOUT_PROVIDERS)} (PAYOUT_*_PROVIDER).")

# --- Email (payout notices; console in development) ---------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "conveyor@localhost")

# --- Notifications (jobs/notifications.py) --------------------------------------
# Channel classes for SMS, WhatsApp and push; email uses EMAIL_BACKEND. The sandbox fails at
# SANDBOX_CHANNEL_ERROR_RATE (0..1), to show retries.
NOTIFICATION_CHANNELS = {
    "sms": env.str("NOTIFICATION_SMS_CHANNEL", "jobs.notifications.SandboxChannel"),
    "whatsapp": env.str("NOTIFICATION_WHATSAPP_CHANNEL", "jobs.notifications.SandboxChannel"),
    "push": env.str("NOTIFICATION_PUSH_CHANNEL", "jobs.notifications.SandboxChannel"),
}
SANDBOX_CHANNEL_ERROR_RATE = env.float("SANDBOX_CHANNEL_ERROR_RATE", 0.0, minimum=0)

# One registry of queues. Names and numbers come from the seeds (see docs/architecture.md):
# concurrency = jobs at once across all workers; rate_limit = (jobs, window seconds);
# retry = policy used when neither the task nor the enqueue call gives one.
_exp = lambda retries, delay: {"kind": "exponential", "retries": retries, "delay": delay}  # noqa: E731
_fixed = lambda retries, delay: {"kind": "fixed", "retries": retries, "delay": delay}  # noqa: E731
_default_retry = _exp(JOB_RETRY_ATTEMPTS, JOB_RETRY_DELAY)
CONVEYOR_QUEUES = {
    "payouts": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": None},
    "payout_expiry": {"concurrency": 3, "retry": _fixed(2, 5), "rate_limit": (50, 60)},
    "provider_fallback": {"concurrency": 2, "retry": _exp(3, 3), "rate_limit": (20, 60)},
    "reconciliation": {"concurrency": 2, "retry": _exp(3, 5), "rate_limit": (30, 60)},
    "notifications": {"concurrency": 5, "retry": _exp(3, 2), "rate_limit": (100, 60)},
    "emails": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _exp(3, 2), "rate_limit": None},
    "analytics": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "daily_reports": {"concurrency": 1, "retry": _fixed(2, 10), "rate_limit": (10, 60)},
    "reports": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "exports": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "imports": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "calculations": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "integrations": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
    "maintenance": {"concurrency": 1, "retry": _fixed(1, 60), "rate_limit": None},
    "default": {"concurrency": MAX_QUEUE_CONCURRENCY, "retry": _default_retry, "rate_limit": None},
}

# Per-deploy tuning without a code change, as JSON, e.g.
# QUEUE_OVERRIDES='{"reports": {"concurrency": 2, "rate_limit": [5, 1]}}'
def _apply_queue_overrides(queues: dict) -> None:
    import json

    raw = env.str("QUEUE_OVERRIDES", "")
    if not raw:
        return
    try:
        overrides = json.loads(raw)
        assert isinstance(overrides, dict)
    except (ValueError, AssertionError):
        raise ImproperlyConfigured("QUEUE_OVERRIDES must be a JSON object of queue name -> settings.") from None
    for name, values in overrides.items():
        if name not in queues:
            raise ImproperlyConfigured(f"QUEUE_OVERRIDES names unknown queue {name!r}.")
        unknown = set(values) - {"concurrency", "rate_limit", "retry"}
        if unknown:
            raise ImproperlyConfigured(f"QUEUE_OVERRIDES[{name!r}] has unknown keys {sorted(unknown)}.")
        if "rate_limit" in values and values["rate_limit"] is not None:
            values["rate_limit"] = tuple(values["rate_limit"])
        queues[name].update(values)


_apply_queue_overrides(CONVEYOR_QUEUES)
for _name, _queue in CONVEYOR_QUEUES.items():
    _cap, _rate = _queue["concurrency"], _queue["rate_limit"]
    if not isinstance(_cap, int) or _cap < 0:
        raise ImproperlyConfigured(f"queue {_name!r}: concurrency must be a whole number, 0 meaning unlimited.")
    if _rate is not None and not (len(_rate) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in _rate)):
        raise ImproperlyConfigured(f"queue {_name!r}: rate_limit must be (jobs, window seconds), both positive.")

# --- Django ----------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (no CDN)
    "django_rq",
    "axes",  # login throttling for the admin (django-axes)
    "jobs",
    "payouts",
    "reports",
    "access",  # who may do what: the shipped groups and the permission rules (docs/api.md)
]

# Middleware by route group (config/middleware.py): the first row whose path prefix matches
# (and, for "api-token", whose request carries an Authorization header) picks the chain.
# Health checks skip sessions, CSRF, auth and messages; token-authenticated API calls skip
# sessions, CSRF and messages; everything else (admin, downloads, the browsable API, static
# files) runs the full stack. bench/middleware.py measures the difference. The security
# middleware (HTTPS redirect, HSTS) and django-axes' lockout answers run for every request,
# in front of the router, where `manage.py check --deploy` sees them.
_CORRELATION = "jobs.middleware.CorrelationIdMiddleware"
_COMMON = "django.middleware.common.CommonMiddleware"
FULL_MIDDLEWARE = [
    _CORRELATION,
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    _COMMON,
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
MIDDLEWARE_GROUPS = [
    # (group, path prefixes, only with an Authorization header, middleware)
    ("health", ["/health/", "/metrics"], False, [_CORRELATION]),
    ("api-token", ["/api/"], True, [_CORRELATION, _COMMON]),
    ("default", ["/"], False, FULL_MIDDLEWARE),
]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "axes.middleware.AxesMiddleware", "config.middleware.RouteGroupMiddleware"]
# Checks that look for middleware in MIDDLEWARE, which sits in the route groups' chains; access/checks.py
# checks the groups instead (the session groups have CSRF, clickjacking and the admin's middleware).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W003", "security.W002"]

# Admin logins: django-axes locks a username from one address out after LOGIN_FAILURE_LIMIT
# failures, for LOGIN_LOCKOUT seconds (429 with a message saying when to try again). Attempts
# and lockouts are in the admin (Axes); `manage.py axes_reset_username NAME` lifts one.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT = env.int("LOGIN_LOCKOUT", 15 * 60, minimum=1, maximum=7 * 24 * 3600, unit="seconds")
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "access.clients.client_ip"  # TRUSTED_PROXY_COUNT decides which address is the client's
AXES_SENSITIVE_PARAMETERS = ["password", "key", "token"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", LOCAL_RUNTIME.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, workers, scheduler) share the file: wait for locks
    # instead of failing, and keep the test database on disk so worker
    # processes started by the reliability tests can see it.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "conveyor",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 5},
    }
}
# Sessions live in Redis so any web instance can serve any user.
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"
SESSION_COOKIE_AGE = SESSION_TTL
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Outside production, static files are served from the apps' directories (no collectstatic needed).
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.str("MEDIA_ROOT", str(BASE_DIR / "media"))
# Reports and exports are files in the default storage (MEDIA_ROOT); they are deleted this long
# after they were produced (the "Report file retention" schedule). docs/reports.md
REPORT_RETENTION = env.int("REPORT_RETENTION", 7 * 24 * 3600, minimum=60)
# The largest file an import accepts, in bytes.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", 10 * 2**20, minimum=1024, maximum=2**30, unit="bytes")
# Uploaded import files (encrypted at rest: they hold account numbers) are deleted this many
# seconds after their import finished; the import's counts and row errors stay.
IMPORT_FILE_RETENTION = env.int("IMPORT_FILE_RETENTION", 7 * 24 * 3600, minimum=0, maximum=366 * 24 * 3600, unit="seconds")

# --- REST API (/api/v1/, docs/api.md) ------------------------------------------------
# The largest request body the API reads, in bytes (JSON; imports: IMPORT_MAX_BYTES). Larger
# ones are answered 413 before they are parsed.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", 2**20, minimum=1024, maximum=64 * 2**20, unit="bytes")
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Failed token authentications from one address: after API_TOKEN_FAILURE_LIMIT within
# API_TOKEN_FAILURE_WINDOW seconds, that address is answered 429 until the window passes.
API_TOKEN_FAILURE_LIMIT = env.int("API_TOKEN_FAILURE_LIMIT", 20, minimum=1)
API_TOKEN_FAILURE_WINDOW = env.int("API_TOKEN_FAILURE_WINDOW", 600, minimum=1, maximum=24 * 3600, unit="seconds")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobs.api.auth.TokenAuthentication",  # API clients: Authorization: Token <key>
        "rest_framework.authentication.SessionAuthentication",  # the browsable API, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle", "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": env.str("API_THROTTLE_ANON", "60/min"), "user": env.str("API_THROTTLE_USER", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["jobs.api.parsers.StrictJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "jobs.api.handlers.exception_handler",
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
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "jobs.api.schema.document_common_answers"],
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "jobs.states.State",
        "CleanStateEnum": ["cancelled", "dead", "succeeded"],
        "PriorityNameEnum": ["critical", "high", "normal", "low"],
        "PriorityEnum": [(1, "Critical"), (2, "High"), (3, "Normal"), (4, "Low")],
        "PayoutStateEnum": "payouts.models.Payout.State",
        "ReportStateEnum": "reports.models.Report.State",
        "ImportStateEnum": "reports.models.Import.State",
    },
}

# --- RQ / django-rq ---------------------------------------------------------
# Every logical queue has four Redis lists, one per priority tier; see jobs/queues.py.
from jobs.queues import rq_queue_settings  # noqa: E402  (pure function, no Django imports)

RQ_QUEUES = rq_queue_settings(CONVEYOR_QUEUES, REDIS_URL, JOB_TIMEOUT)
RQ = {"WORKER_CLASS": "jobs.worker.ConveyorWorker"}
RQ_SHOW_ADMIN_LINK = True

# json: one JSON object per line with correlation id, job id, queue, task, attempt and duration
# (for log shippers); plain: for people (make run). docs/operations.md
LOG_FORMAT = env.str("LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or plain.")
# RQ's own worker lines (maintenance, connection trouble); the per-job lines are INFO of jobs.runtime.
RQ_LOG_LEVEL = env.str("RQ_LOG_LEVEL", "WARNING").upper()
if RQ_LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(f"RQ_LOG_LEVEL={RQ_LOG_LEVEL!r} must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "jobs.logs.ContextFilter"}},
    "formatters": {
        "plain": {"()": "jobs.logs.PlainFormatter", "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "jobs.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {"rq.worker": {"level": RQ_LOG_LEVEL}, "axes": {"level": "WARNING"}},
}
