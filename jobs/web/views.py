"""Health endpoints for load balancers and PaaS checks. No authentication, no session, no
database write; the answers carry no secrets."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from access import rules
from jobs.ops import selectors


@never_cache
@require_GET
def live(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """Ready for traffic: the database and Redis answer, at least one worker has a fresh heartbeat,
    and a scheduler is present. 200 when all hold, 503 otherwise, with each check's result."""
    report = selectors.readiness()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@require_GET
def home(request):
    """``/``, where the admin's "View site" leads: people who may see the queues go to the
    dashboard, other staff to the admin; everyone else gets a page pointing to the admin's
    login and the API docs."""
    if rules.has(request.user, "jobs.view_queuestate") and request.user.is_staff:
        return redirect("admin:jobs-dashboard")
    if getattr(request.user, "is_staff", False) and request.user.is_active:
        return redirect("admin:index")
    return TemplateResponse(request, "home.html", {})
