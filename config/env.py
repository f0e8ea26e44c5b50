"""Typed reads of the process environment that fail loudly, naming the variable.

django-environ parses the values; this module only makes every failure an
ImproperlyConfigured that says which variable is wrong and what was expected,
so a typo in a PaaS config stops start-up with a readable message.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import environ
from django.core.exceptions import ImproperlyConfigured

_NOT_SET = object()


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


class Env:
    def __init__(self) -> None:
        self._env = environ.Env()

    def _read(self, kind: str, name: str, default, parse):
        if name not in self._env.ENVIRON or self._env.ENVIRON[name] == "":
            if default is _NOT_SET:
                raise ImproperlyConfigured(f"{name} must be set (expected {kind}).")
            return default
        raw = self._env.ENVIRON[name]
        try:
            return parse(name)
        except (ValueError, TypeError, ImproperlyConfigured) as exc:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {kind}: {exc}") from None

    def str(self, name: str, default=_NOT_SET) -> str:
        return self._read("string", name, default, self._env.str)

    def bool(self, name: str, default=_NOT_SET) -> bool:
        def parse(key):
            value = self._env.ENVIRON[key].strip().lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off"):
                return False
            raise ValueError("use true/false, yes/no, on/off or 1/0")

        return self._read("boolean", name, default, parse)

    def int(self, name: str, default=_NOT_SET, *, minimum: int | None = None, maximum: int | None = None, unit: str = "") -> int:
        """``maximum`` catches a value given in the wrong unit (milliseconds for seconds,
        kilobytes for bytes); the message says the unit."""
        def parse(key):
            value = int(self._env.ENVIRON[key].strip())
            if minimum is not None and value < minimum:
                raise ValueError(f"must be at least {minimum}{_unit(unit)}")
            if maximum is not None and value > maximum:
                raise ValueError(f"must be at most {maximum}{_unit(unit)}; is it in the wrong unit?")
            return value

        return self._read("integer", name, default, parse)

    def float(self, name: str, default=_NOT_SET, *, minimum: float | None = None, maximum: float | None = None, unit: str = "") -> float:
        def parse(key):
            value = float(self._env.ENVIRON[key].strip())
            if value != value or (minimum is not None and value < minimum):
                raise ValueError(f"must be a number, at least {minimum}{_unit(unit)}")
            if maximum is not None and value > maximum:
                raise ValueError(f"must be at most {maximum}{_unit(unit)}; is it in the wrong unit?")
            return value

        return self._read("number", name, default, parse)

    def decimal(self, name: str, default=_NOT_SET, *, minimum: Decimal | None = None) -> Decimal:
        def parse(key):
            try:
                value = Decimal(self._env.ENVIRON[key].strip())
            except InvalidOperation:
                raise ValueError("must be a decimal number such as 1000.00") from None
            if not value.is_finite() or (minimum is not None and value < minimum):
                raise ValueError(f"must be a finite number, at least {minimum}")
            return value

        return self._read("decimal", name, default, parse)

    def list(self, name: str, default=_NOT_SET) -> list[str]:
        def parse(key):
            return [item.strip() for item in self._env.ENVIRON[key].split(",") if item.strip()]

        return self._read("comma-separated list", name, default, parse)

    def db_url(self, name: str, default=_NOT_SET) -> dict:
        def parse(key):
            scheme = self._env.ENVIRON[key].split("://", 1)[0]
            if scheme not in environ.Env.DB_SCHEMES:
                raise ValueError(f"unknown scheme {scheme!r}; use postgres://, mysql:// or sqlite:///")
            return self._env.db_url(key)

        if default is not _NOT_SET and (name not in self._env.ENVIRON or self._env.ENVIRON[name] == ""):
            return environ.Env.db_url_config(default)
        return self._read("database URL", name, default, parse)

    def redis_url(self, name: str, default=_NOT_SET) -> str:
        def parse(key):
            value = self._env.ENVIRON[key].strip()
            if not value.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("must start with redis://, rediss:// or unix://")
            return value

        return self._read("Redis URL", name, default, parse)
