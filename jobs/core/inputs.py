"""Checks of untrusted input that every surface shares. Pure: no ORM, no Redis.

Each check raises FieldError naming the field, so an API answers 400 and changes nothing
instead of storing a value that breaks a page later or failing with a 500:

* ids are ASCII digits within a database bigint (a 30-digit id is an OverflowError in the
  driver, and ``int("١٢")`` is 12 in Python);
* decimals are ASCII digits with a point (``Decimal("١٢")`` is 12 too, and ``1e30`` has
  more digits than the money columns hold);
* dates fall between FIRST_DAY and LAST_DAY (``date(9999, 12, 31) + 1 day`` overflows);
* JSON is plain, at most MAX_JSON_DEPTH levels deep, with no unpaired surrogates: Python
  reads ``"\\ud800"`` from JSON happily, PostgreSQL refuses it, and SQLite stores it, after
  which every page that shows the row fails to encode its answer.

``scrub`` is the other half: what is already stored is shown with U+FFFD in place of an
unpaired surrogate, never an error (jobs.fields.SafeJSONDecoder).
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from jobs.core.errors import FieldError

MAX_ID = 2**63 - 1  # the largest value of a database bigint (every id column)
MAX_JSON_INT = 2**63 - 1  # JSON integers in job arguments, schedules and parameters: a bigint
MAX_JSON_DEPTH = 32
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)
_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = "contains an unpaired UTF-16 surrogate (U+D800 to U+DFFF), which is not valid Unicode text"


def parse_id(value, field: str) -> int:
    """An object id: a whole number from 1 to MAX_ID, as an int or a string of ASCII digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise FieldError(field, f"must be a whole number id from 1 to {MAX_ID}")
    if not 1 <= number <= MAX_ID:
        raise FieldError(field, f"must be a whole number id from 1 to {MAX_ID}")
    return number


def parse_count(raw: str, field: str, *, minimum: int, maximum: int) -> int:
    """A whole number from a query string (limit, page_size), ASCII digits only."""
    if not isinstance(raw, str) or not _ASCII_DIGITS.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise FieldError(field, f"must be a whole number from {minimum} to {maximum}")
    return int(raw)


def parse_decimal(value, field: str, *, integer_digits: int = 16, places: int = 2) -> Decimal:
    """A finite decimal with at most ``integer_digits`` digits before the point and ``places``
    after it. Strings must be ASCII digits with an optional sign and point (no exponent)."""
    if isinstance(value, bool):
        raise FieldError(field, "must be a number such as 12.50")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, (str, float)):
        text = value.strip() if isinstance(value, str) else repr(value)
        if not _ASCII_DECIMAL.fullmatch(text):
            raise FieldError(field, "must be a number such as 12.50 (the digits 0-9 and a decimal point)")
        number = Decimal(text)
    else:
        raise FieldError(field, "must be a number such as 12.50")
    if not number.is_finite():
        raise FieldError(field, "must be a finite number")
    sign, digits, exponent = number.as_tuple()
    if number and len(digits) + exponent > integer_digits:
        raise FieldError(field, f"is too large (at most {integer_digits} digits before the decimal point)")
    try:
        exact = number == number.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than the context holds: far too precise anyway
        exact = False
    if not exact:
        raise FieldError(field, f"must have at most {places} decimal places")
    return number


def parse_day(value, field: str) -> date:
    """A calendar day, YYYY-MM-DD, between FIRST_DAY and LAST_DAY."""
    if isinstance(value, date):
        day = value
    else:
        day = None
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value, re.ASCII):
            try:
                day = date.fromisoformat(value)
            except ValueError:  # well formed but not a real day, like 2026-13-01
                day = None
        if day is None:
            raise FieldError(field, "must be a date, YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FieldError(field, f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return day


def check_text(value: str, field: str, *, max_length: int | None = None) -> str:
    """A string that is valid Unicode text (and, with ``max_length``, not longer than that)."""
    if not isinstance(value, str):
        raise FieldError(field, "must be a string")
    if _SURROGATE.search(value):
        raise FieldError(field, SURROGATE_MESSAGE)
    if max_length is not None and len(value) > max_length:
        raise FieldError(field, f"must be at most {max_length} characters")
    return value


def _path(path) -> str:
    """Paths are built lazily, as (parent, key) pairs: rendered only for the error message."""
    parts = []
    while isinstance(path, tuple):
        path, key = path
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    return path + "".join(reversed(parts))


def check_json(value, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise FieldError naming the first value inside ``value`` that is not plain JSON: only
    None, booleans, integers within a bigint, finite floats, valid Unicode strings, lists and
    objects with string keys, nested at most ``max_depth`` deep. Iterative, so no input can
    exhaust the stack."""
    stack = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if _SURROGATE.search(item):
                raise FieldError(_path(path), SURROGATE_MESSAGE)
        elif item is None or kind is bool:
            continue
        elif kind is int:
            if not -MAX_JSON_INT <= item <= MAX_JSON_INT:
                raise FieldError(_path(path), f"integers must lie between -{MAX_JSON_INT} and {MAX_JSON_INT}")
        elif kind is float:
            if not math.isfinite(item):
                raise FieldError(_path(path), "NaN and infinity are not valid JSON")
        elif kind is list or kind is tuple or kind is dict:
            if depth >= max_depth:
                raise FieldError(_path(path), f"is nested more than {max_depth} levels deep")
            if kind is dict:
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise FieldError(_path(path), f"object keys must be strings, not {type(key).__name__}")
                    if _SURROGATE.search(key):
                        raise FieldError(_path(path), f"a key {SURROGATE_MESSAGE}")
                    stack.append((child, (path, key), depth + 1))
            else:
                stack.extend((child, (path, index), depth + 1) for index, child in enumerate(item))
        elif isinstance(item, (str, int, float, list, tuple, dict)):  # subclasses (IntEnum, OrderedDict...): check as the base
            base = next(t for t in (bool, str, int, float, list, tuple, dict) if isinstance(item, t))
            stack.append((base(item), path, depth))
        else:
            raise FieldError(_path(path), f"{kind.__name__} is not JSON-serialisable; pass ids, strings and numbers")


def has_surrogate(text: str) -> bool:
    return bool(_SURROGATE.search(text))


def scrub(value):
    """``value`` with every unpaired surrogate in its strings (and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value
