"""Conveyor settings. The environment is read here, once; see .env.example."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

# --- Environment -----------------------------------------------------------
DJANGO_ENV = env.str("DJANGO_ENV", "development")
if DJANGO_ENV not in ("development", "test", "production"):
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} must be development, test or production.")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # no default in production: start-up fails naming it
else:
    SECRET_KEY = env.str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
DEBUG = env.bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])


def _redis_url() -> str:
    """REDIS_URL wins; the seeds' REDIS_HOST/PORT/PASSWORD/DB are accepted too."""
    url = env.redis_url("REDIS_URL", "")
    if url:
        return url
    host = env.str("REDIS_HOST", "")
    if not host:
        raise ImproperlyConfigured(
            "REDIS_URL must be set (make run / make test start an embedded Redis and set it for you)."
        )
    port = env.int("REDIS_PORT", 6379, minimum=1)
    password = env.str("REDIS_PASSWORD", "")
    db = env.int("REDIS_DB", 0, minimum=0)
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


REDIS_URL = _redis_url()

# --- Job platform knobs (seconds everywhere; the seeds used milliseconds) ---
JOB_TIMEOUT = env.int("JOB_TIMEOUT", 300, minimum=1)
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
# /metrics (Prometheus): a scraper sends "Authorization: Bearer <METRICS_TOKEN>"; a staff user's
# API token ("Authorization: Token <key>") also works. Empty: only staff API tokens.
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
# Payouts above this amount wait for staff approval; a request not approved within
# PAYOUT_APPROVAL_TTL seconds expires and its hold on the balance is released.
PAYOUT_APPROVAL_THRESHOLD = env.decimal("PAYOUT_APPROVAL_THRESHOLD", Decimal("1000.00"), minimum=Decimal("0"))
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
    "jobs",
    "payouts",
    "reports",
]

# Middleware by route group (config/middleware.py): the first row whose path prefix matches
# (and, for "api-token", whose request carries an Authorization header) picks the chain.
# Health checks skip sessions, CSRF, auth and messages; token-authenticated API calls skip
# sessions, CSRF and messages; everything else (admin, downloads, the browsable API, static
# files) runs the full stack. bench/middleware.py measures the difference.
_SECURITY = "django.middleware.security.SecurityMiddleware"
_CORRELATION = "jobs.middleware.CorrelationIdMiddleware"
_COMMON = "django.middleware.common.CommonMiddleware"
FULL_MIDDLEWARE = [
    _SECURITY,
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
    ("api-token", ["/api/"], True, [_SECURITY, _CORRELATION, _COMMON]),
    ("default", ["/"], False, FULL_MIDDLEWARE),
]
MIDDLEWARE = ["config.middleware.RouteGroupMiddleware"]
# The admin checks for its middleware in MIDDLEWARE; they are in the "default" group's chain.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410"]

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

DATABASES = {"default": env.db_url("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
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
WHITENOISE_AUTOREFRESH = DEBUG  # serve from the app directories too, so collectstatic is optional in development
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.str("MEDIA_ROOT", str(BASE_DIR / "media"))
# Reports and exports are files in the default storage (MEDIA_ROOT); they are deleted this long
# after they were produced (the "Report file retention" schedule). docs/reports.md
REPORT_RETENTION = env.int("REPORT_RETENTION", 7 * 24 * 3600, minimum=60)
# The largest file an import accepts, in bytes.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", 10 * 2**20, minimum=1024)

# --- REST API (/api/v1/, docs/operations.md) ------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "jobs.api.auth.TokenAuthentication",  # API clients: Authorization: Token <key>
        "rest_framework.authentication.SessionAuthentication",  # the browsable API, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle", "rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": env.str("API_THROTTLE_ANON", "60/min"), "user": env.str("API_THROTTLE_USER", "1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "jobs.api.schema.document_path_404s"],
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
    "loggers": {"rq.worker": {"level": env.str("RQ_LOG_LEVEL", "WARNING")}},
}
