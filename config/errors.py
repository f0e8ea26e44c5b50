"""Error pages: JSON under /api/ (so API clients never parse HTML), Django's pages elsewhere.
Used for what happens before a DRF view answers: an unknown URL or a path parameter of the
wrong shape (404), a request Django itself refuses, e.g. too many form fields (400)."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

_MESSAGES = {400: "Bad request.", 403: "Forbidden.", 404: "Not found.", 500: "Server error."}


def _api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception):
    return JsonResponse({"detail": _MESSAGES[400]}, status=400) if _api(request) else defaults.bad_request(request, exception)


def permission_denied(request, exception):
    return JsonResponse({"detail": _MESSAGES[403]}, status=403) if _api(request) else defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    return JsonResponse({"detail": _MESSAGES[404]}, status=404) if _api(request) else defaults.page_not_found(request, exception)


def server_error(request):
    return JsonResponse({"detail": _MESSAGES[500]}, status=500) if _api(request) else defaults.server_error(request)
