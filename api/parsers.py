"""The API's JSON parser: bounded, and strict about what it lets in.

* A body over API_MAX_BODY_BYTES is answered 413 before it is read into memory (Django checks
  Content-Length against DATA_UPLOAD_MAX_MEMORY_SIZE, which is API_MAX_BODY_BYTES, when REST
  framework reads the body; the parser checks again for streams that did not say their length).
* JSON nested deeper than Python can parse is a 400, not a RecursionError.
* Every value must be plain JSON (jobs.core.inputs.check_json): no unpaired surrogates, which
  PostgreSQL refuses (500) and SQLite stores (then every page showing the row fails),
  integers within a bigint, no NaN or infinity. The error names the field, e.g.
  ``{"kwargs.note": ["contains an unpaired UTF-16 surrogate ..."]}``.
"""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from jobs.core import inputs


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def too_large(size, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is {size} bytes; the limit is {limit} ({setting}).")


def check_body_length(request, limit: int, setting: str) -> None:
    """Refuse a request whose Content-Length is over ``limit``, before anything reads it."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    if raw.isascii() and raw.isdigit() and int(raw) > limit:
        raise too_large(int(raw), limit, setting)


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.API_MAX_BODY_BYTES
        request = parser_context.get("request")
        if request is not None:
            check_body_length(request, limit, "API_MAX_BODY_BYTES")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large(f"more than {limit}", limit, "API_MAX_BODY_BYTES")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        # A FieldError names the value at fault; the exception handler answers it as a 400.
        if isinstance(data, dict):
            for key, value in data.items():
                inputs.check_text(key, "body")
                inputs.check_json(value, key)
        else:
            inputs.check_json(data, "body")
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
