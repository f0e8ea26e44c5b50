"""HTTPS, browser protections, logins and their throttling (docs/deploy.md, "Security settings")."""

from __future__ import annotations

from datetime import timedelta

from config.settings.environment import DJANGO_ENV, PRODUCTION, env

# --- HTTPS and browser security (docs/deploy.md, "Security settings") -----------------
# Production defaults assume what a PaaS gives: TLS ends at the platform's router, which sets
# X-Forwarded-Proto. `manage.py check --deploy` passes with these (tests/test_security_settings.py).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]  # probes and scrapers inside the platform speak plain HTTP
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO" if PRODUCTION else "")
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
# Seconds browsers remember "HTTPS only" for this host (0: off). A year by default; see
# docs/deploy.md before the first deploy on a domain that still serves plain HTTP somewhere.
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0, maximum=2 * 365 * 24 * 3600, unit="seconds"
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", PRODUCTION)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Proxies in front of the web processes that append to X-Forwarded-For (a PaaS router: 1).
# Used to find the client's address for login and token throttling; 0 trusts REMOTE_ADDR only.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0, minimum=0, maximum=5)

# Admin logins: django-axes locks a username from one address out after LOGIN_FAILURE_LIMIT
# failures, for LOGIN_LOCKOUT seconds (429 with a message saying when to try again). Attempts
# and lockouts are in the admin (Axes); `manage.py axes_reset_username NAME` lifts one.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT = env.duration("LOGIN_LOCKOUT", 15 * 60, minimum=1, maximum=7 * 86400, whole=True)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "access.clients.client_ip"  # TRUSTED_PROXY_COUNT decides which address is the client's
AXES_SENSITIVE_PARAMETERS = ["password", "key", "token"]

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

# Django's hashers. Under DJANGO_ENV=test the processes a test starts (web instances, workers)
# also accept MD5 hashes: the test process hashes its users' passwords with MD5, as Django's
# testing docs advise (tests/conftest.py), where 1,000,000 PBKDF2 rounds were most of many tests'
# setup. Nothing outside tests ever writes one; elsewhere the list is Django's default.
if DJANGO_ENV == "test":
    from django.conf import global_settings  # noqa: PLC0415

    PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
