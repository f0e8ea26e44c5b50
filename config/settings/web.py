"""Django itself: the apps, the middleware, templates, time, static and uploaded files."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import BASE_DIR, PRODUCTION, env

# --- Django ----------------------------------------------------------------
INSTALLED_APPS = [
    "config.admin_site.ConveyorAdminConfig",  # django.contrib.admin, its ModelAdmins loaded on first use
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (no CDN)
    "django_rq",
    "django_tasks",  # Django's standard Tasks API (the django-tasks backport), run by Conveyor
    "axes",  # login throttling for the admin (django-axes)
    "api",  # the REST API toolkit: tokens, strict parsing, the exception handler, pagination
    "audit",  # the audit trail (who did what, when, why), written by every app's services
    "jobs",
    "notifications",  # email, SMS, WhatsApp and push, each message sent by a job
    "payouts",
    "reports",
    "access",  # who may do what: the shipped groups and the permission rules (docs/api.md)
]

# The middleware every request runs, in Django's usual order, where `manage.py check --deploy`
# sees it. Only sessions, authentication and messages are chosen per route group
# (config/middleware.py, the seeds' conditional middleware): health checks and calls with an API
# token skip them; everything else (the admin, downloads, the browsable API) runs them.
# REST framework's views are CSRF-exempt and check CSRF themselves for session calls.
SESSION_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MIDDLEWARE_GROUPS = [
    # (group, path prefixes, only with an Authorization header, middleware)
    ("health", ["/health/", "/metrics"], False, []),
    ("webhooks", ["/webhooks/"], False, []),  # providers' callbacks: signed, no session or cookie
    ("api-token", ["/api/"], True, []),
    ("default", ["/"], False, SESSION_MIDDLEWARE),
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "jobs.web.middleware.CorrelationIdMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.RouteGroupMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]
# The admin's checks look for sessions, authentication and messages in MIDDLEWARE; they are in
# the route groups' chains, which access/checks.py checks instead.
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Outside production, static files are served from the apps' directories (no collectstatic needed).
WHITENOISE_AUTOREFRESH = WHITENOISE_USE_FINDERS = not PRODUCTION
# Imports, reports and exports live in Django's default storage, reached only through the
# storage API: the local disk (MEDIA_ROOT) by default, for `make run` on one machine, or an
# S3-compatible object store (django-storages) when web and workers run on separate machines,
# as on a PaaS (docs/deploy.md, "File storage"). Downloads from S3 are short-lived signed URLs.
FILE_STORAGE = env.str("FILE_STORAGE", "local")
if FILE_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"FILE_STORAGE={FILE_STORAGE!r} must be local or s3.")
# How long a download link to a file in S3 works (it is made when the download is asked for).
FILE_DOWNLOAD_URL_TTL = env.duration("FILE_DOWNLOAD_URL_TTL", 300, minimum=10, maximum=7 * 86400, whole=True)
if FILE_STORAGE == "s3":
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            # django-storages' own names. Without a key pair, boto3 finds credentials itself
            # (an instance role, AWS_PROFILE, ...).
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", "") or None,  # MinIO, R2, Spaces, ...
            "region_name": env.str("AWS_S3_REGION_NAME", "") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", "") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", "") or None,  # "path" for most self-hosted stores
            "location": env.str("AWS_LOCATION", ""),  # a key prefix inside the bucket
            "signature_version": "s3v4",
            "default_acl": None,  # private: files are read through signed URLs only
            "querystring_auth": True,
            "querystring_expire": FILE_DOWNLOAD_URL_TTL,
            "file_overwrite": False,
        },
    }
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = env.str("MEDIA_ROOT", str(BASE_DIR / "media"))
# Reports and exports are files in the default storage (MEDIA_ROOT); they are deleted this long
# after they were produced (the "Report file retention" schedule). docs/reports.md
REPORT_RETENTION = env.duration("REPORT_RETENTION", 7 * 24 * 3600, minimum=60, maximum=366 * 86400, whole=True)
# The largest file an import accepts, in bytes.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", 10 * 2**20, minimum=1024, maximum=2**30, unit="bytes")
# Uploaded import files (encrypted at rest: they hold account numbers) are deleted this many
# seconds after their import finished; the import's counts and row errors stay.
IMPORT_FILE_RETENTION = env.duration("IMPORT_FILE_RETENTION", 7 * 24 * 3600, maximum=366 * 86400, whole=True)
