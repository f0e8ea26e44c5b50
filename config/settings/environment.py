"""What kind of deploy this is, its secret and its host names; the environment reader every
settings module uses. Read first."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import runtime
from config.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent.parent
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
