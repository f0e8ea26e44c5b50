"""Typed reads of the process environment that fail loudly, naming the variable.

django-environ parses the values; this module adds bounds (with their unit) and strict
booleans, and makes every failure an ImproperlyConfigured that says which variable is wrong
and what was expected, so a typo in a PaaS config stops start-up with a readable message.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import environ
from django.core.exceptions import ImproperlyConfigured

_NOT_SET = object()
FALSE_STRINGS = ("0", "false", "no", "off", "n", "f")


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


class Env:
    """django-environ does the parsing (its casts, its URL schemes); this wrapper adds the
    checks it lacks: bounds with their unit, booleans that refuse a typo (django-environ reads
    anything unknown as false), and one error that names the variable."""

    def __init__(self) -> None:
        self._env = environ.Env()

    def _read(self, kind: str, name: str, default, parse, check=None):
        if name not in self._env.ENVIRON or self._env.ENVIRON[name] == "":
            if default is _NOT_SET:
                raise ImproperlyConfigured(f"{name} must be set (expected {kind}).")
            return default
        raw = self._env.ENVIRON[name]
        try:
            value = parse(name)
            if check is not None:
                check(value)
            return value
        except (ValueError, TypeError, ArithmeticError, ImproperlyConfigured) as exc:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {kind}: {exc}") from None

    @staticmethod
    def _bounds(minimum, maximum, unit: str):
        def check(value):
            if value != value:
                raise ValueError("must be a number")
            if minimum is not None and value < minimum:
                raise ValueError(f"must be at least {minimum}{_unit(unit)}")
            if maximum is not None and value > maximum:
                raise ValueError(f"must be at most {maximum}{_unit(unit)}; is it in the wrong unit?")

        return check

    def str(self, name: str, default=_NOT_SET) -> str:
        return self._read("string", name, default, self._env.str)

    def bool(self, name: str, default=_NOT_SET) -> bool:
        def parse(key):
            value = self._env.ENVIRON[key].strip().lower()
            if value not in (*environ.Env.BOOLEAN_TRUE_STRINGS, *FALSE_STRINGS):
                raise ValueError("use true/false, yes/no, on/off or 1/0")
            return value in environ.Env.BOOLEAN_TRUE_STRINGS

        return self._read("boolean", name, default, parse)

    def int(self, name: str, default=_NOT_SET, *, minimum: int | None = None, maximum: int | None = None, unit: str = "") -> int:
        """``maximum`` catches a value given in the wrong unit (milliseconds for seconds,
        kilobytes for bytes); the message says the unit."""
        return self._read("integer", name, default, self._env.int, self._bounds(minimum, maximum, unit))

    def float(self, name: str, default=_NOT_SET, *, minimum: float | None = None, maximum: float | None = None, unit: str = "") -> float:
        return self._read("number", name, default, self._env.float, self._bounds(minimum, maximum, unit))

    def decimal(self, name: str, default=_NOT_SET, *, minimum: Decimal | None = None) -> Decimal:
        def check(value):
            if not value.is_finite() or (minimum is not None and value < minimum):
                raise ValueError(f"must be a finite number, at least {minimum}")

        def parse(key):
            try:
                return self._env.get_value(key, cast=Decimal)
            except InvalidOperation:
                raise ValueError("must be a decimal number such as 1000.00") from None

        return self._read("decimal", name, default, parse, check)

    def list(self, name: str, default=_NOT_SET) -> list[str]:
        return self._read("comma-separated list", name, default, lambda key: [item.strip() for item in self._env.list(key) if item.strip()])

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
        def check(value):
            if not value.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("must start with redis://, rediss:// or unix://")

        return self._read("Redis URL", name, default, lambda key: self._env.str(key).strip(), check)
