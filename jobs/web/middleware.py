"""Correlation ids for requests: accepted from X-Correlation-ID when valid, else made; returned
in the response, stored on every job the request creates, and on every log line."""

from __future__ import annotations

from django.conf import settings

from jobs.core.context import current_correlation_id, new_correlation_id, valid_correlation_id

HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.ENABLE_CORRELATION_IDS:
            return self.get_response(request)
        incoming = request.headers.get(HEADER)
        correlation_id = incoming if valid_correlation_id(incoming) else new_correlation_id()  # a bad value is replaced
        request.correlation_id = correlation_id
        token = current_correlation_id.set(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            current_correlation_id.reset(token)
        response[HEADER] = correlation_id
        return response
