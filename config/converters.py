"""Path converters. ``<id:...>`` is an object id: ASCII digits within a database bigint, so an
id of 30 digits answers 404 like any other id that does not exist, instead of an overflow in
the database driver (a 500)."""

from __future__ import annotations

from django.urls.converters import IntConverter

from jobs.core.inputs import MAX_ID


class IdConverter(IntConverter):
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError(f"{value} is not an id")
        return number
