"""The services: Redis (the transport, the cache, sessions) and the database (the source of truth)."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import BASE_DIR, LOCAL_RUNTIME, env


def _redis_url() -> str:
    """REDIS_URL, or the seeds' REDIS_HOST/PORT/PASSWORD/DB (REDIS_TLS for rediss://), with the
    TLS certificate settings added to it: every Redis client here (transport, cache and
    sessions, RQ's queues) is made from this one URL, so each speaks TLS the same way."""
    return _with_tls(_plain_redis_url())


# What a rediss:// connection checks: the server's certificate against REDIS_SSL_CA_CERTS (or
# the system's CAs) and its host name; REDIS_SSL_CERTFILE/KEYFILE when the server asks the
# client for a certificate. Passed as redis-py's URL parameters.
TLS_CERT_REQS = ("required", "optional", "none")


def _with_tls(url: str) -> str:
    tls = {
        "ssl_ca_certs": env.str("REDIS_SSL_CA_CERTS", ""),
        "ssl_cert_reqs": env.str("REDIS_SSL_CERT_REQS", ""),
        "ssl_certfile": env.str("REDIS_SSL_CERTFILE", ""),
        "ssl_keyfile": env.str("REDIS_SSL_KEYFILE", ""),
    }
    tls = {key: value for key, value in tls.items() if value}
    if not tls:
        return url
    if urlsplit(url).scheme != "rediss":
        raise ImproperlyConfigured(
            "REDIS_SSL_* settings are set but Redis is not reached over TLS: use a rediss:// REDIS_URL (or REDIS_TLS=true)."
        )
    if tls.get("ssl_cert_reqs", "required") not in TLS_CERT_REQS:
        raise ImproperlyConfigured(f"REDIS_SSL_CERT_REQS={tls['ssl_cert_reqs']!r} must be required, optional or none.")
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        if name in tls:
            path = BASE_DIR / tls[name]  # relative to the project, whatever the working directory
            if not path.is_file():
                raise ImproperlyConfigured(f"REDIS_{name.upper()}={tls[name]!r} is not a readable file.")
            tls[name] = str(path)
    return url + ("&" if "?" in url else "?") + urlencode(tls)


def _plain_redis_url() -> str:
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
    port = env.int("REDIS_PORT", 6379, minimum=1, maximum=65535)
    password = env.str("REDIS_PASSWORD", "")
    db = env.int("REDIS_DB", 0, minimum=0)
    auth = f":{quote(password, safe='')}@" if password else ""
    scheme = "rediss" if env.bool("REDIS_TLS", False) else "redis"
    return f"{scheme}://{auth}{host}:{port}/{db}"


REDIS_URL = _redis_url()

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
    DATABASES["default"]["CONN_MAX_AGE"] = env.duration("DB_CONN_MAX_AGE", 60, maximum=86400, whole=True)
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
# Redis going away must not break the HTTP side (enqueue keeps working, docs/flow-control.md):
# a cache call that cannot reach Redis answers as a miss and is logged (django_redis logger),
# so DRF's throttles let requests through meanwhile and sessions are read from the database.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Sessions are read from Redis, so any web instance serves any user at Redis speed, and
# written through to the database, which serves them while Redis is away (expired rows are
# removed by the retention cleanup).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "default"
# Seconds a session lasts; sessions live in Redis so every web instance shares them.
SESSION_TTL = env.duration("SESSION_TTL", 24 * 3600, minimum=60, maximum=366 * 86400, whole=True)
SESSION_COOKIE_AGE = SESSION_TTL
