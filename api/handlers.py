"""The API's exception handler: DRF's, plus the answers DRF leaves to Django.

* A FieldError from a service (InvalidJob, PayoutError, ReportError, ...) is a 400 naming
  its field, whichever view let it through.
* Django's own refusals of a request (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many
  fields) are JSON too, never Django's HTML debug page.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jobs.core.errors import FieldError


def exception_handler(exc, context):
    if isinstance(exc, FieldError):
        return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):  # Django's own check of Content-Length, before the body is read
        return Response(
            {"detail": f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (API_MAX_BODY_BYTES)."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent):
        return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
