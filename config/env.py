"""Typed reads of the process environment that fail loudly, naming the variable.

django-environ parses the values; this module adds bounds (with their unit) and strict
booleans, and makes every failure an ImproperlyConfigured that says which variable is wrong
and what was expected, so a typo in a PaaS config stops start-up with a readable message.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation

import environ
from django.core.exceptions import ImproperlyConfigured

_NOT_SET = object()
FALSE_STRINGS = ("0", "false", "no", "off", "n", "f")


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


# Durations: "30s", "5000ms", "2h", "1h30m", "1.5m"; a bare number is seconds.
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)?\s*", re.IGNORECASE)


def parse_duration(text: str) -> tuple[float, bool]:
    """Seconds, and whether every part gave its unit. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("is empty")
    seconds, pos, bare = 0.0, 0, False
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError("use a number with a unit: 500ms, 30s, 5m, 2h, 1d (a bare number is seconds)")
        number, unit = match.groups()
        if unit is None:
            rest = text[match.end() :]
            if rest and not rest[0].isdigit():
                raise ValueError(f"unknown unit {rest.split()[0]!r}; use ms, s, m, h or d")
            if pos or rest:  # "1h30": the bare part is ambiguous
                raise ValueError("give every part its unit (1h30m, not 1h30)")
            bare = True
        seconds += float(number) * DURATION_UNITS[(unit or "s").lower()]
        pos = match.end()
    return seconds, not bare


def describe_seconds(seconds: float) -> str:
    """A length of time people read at a glance: 500 ms, 30 s, 8.3 hours, 2 days."""
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    for size, name in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            value = seconds / size
            number = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
            return f"{number} {name}{'' if number == '1' else 's'}"
    return f"{seconds:g} s"


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

    def duration(
        self,
        name: str,
        default=_NOT_SET,
        *,
        minimum: float = 0,
        maximum: float,
        bare_maximum: float | None = None,
        whole: bool = False,
    ) -> float | int:
        """Seconds, from "30s", "5000ms", "2h", "1h30m" or a bare number of seconds. The seeds give
        these in milliseconds: a bare number above ``bare_maximum`` (default ``maximum``) is
        refused, saying what it would mean in seconds and how to write milliseconds. ``whole``:
        the setting keeps whole seconds. A whole number of seconds comes back as an int.

        A default is not checked; it is given in seconds."""

        def parse(key):
            raw = self._env.ENVIRON[key]
            seconds, with_unit = parse_duration(raw)
            limit = maximum if with_unit or bare_maximum is None else bare_maximum
            if seconds > limit:
                if not with_unit:
                    raise ValueError(
                        f"a bare number is seconds here, and {raw.strip()} seconds is {describe_seconds(seconds)} "
                        f"(at most {describe_seconds(limit)} without a unit); for milliseconds write {raw.strip()}ms, "
                        "or give the unit (30s, 2h)"
                    )
                raise ValueError(f"{describe_seconds(seconds)} is more than the {describe_seconds(maximum)} allowed")
            if seconds < minimum:
                raise ValueError(f"must be at least {describe_seconds(minimum)}")
            if seconds == int(seconds):
                return int(seconds)
            if whole:
                raise ValueError(f"must be whole seconds ({seconds:g} s given)")
            return seconds

        return self._read("duration", name, default, parse)

    def json(self, name: str, default=_NOT_SET, *, kind: type = dict):
        """A JSON value of type ``kind`` (an object by default). A default is not checked."""

        def parse(key):
            value = json.loads(self._env.ENVIRON[key])
            if not isinstance(value, kind):
                raise ValueError(f"must be a JSON {'object' if kind is dict else kind.__name__}")
            return value

        return self._read("JSON value", name, default, parse)

    def rate(self, name: str, default=_NOT_SET, *, maximum_window: float = 86400) -> tuple[int, float] | None:
        """(count, window seconds) from "20/1h" (at most 20 in any hour), "5/10s", "100/1m"; "off"
        or "" for no limit (None). The window takes a unit, as durations do ("60" is 60 s).

        A default is not checked; it is given as (count, seconds) or None."""

        def parse(key):
            raw = self._env.ENVIRON[key].strip()
            if raw.lower() in ("", "off", "none"):
                return None
            count, slash, window = raw.partition("/")
            if not slash or not count.strip().isdigit() or int(count) < 1:
                raise ValueError('must be "<count>/<window>", like 20/1h or 5/10s, or "off"')
            seconds, _ = parse_duration(window)
            if not 0 < seconds <= maximum_window:
                raise ValueError(f"the window must be more than 0 and at most {describe_seconds(maximum_window)}")
            return int(count), seconds

        return self._read("rate", name, default, parse)

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
