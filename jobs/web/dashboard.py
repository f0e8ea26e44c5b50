"""The operations dashboard, a staff page inside the admin (/admin/dashboard/).

One card per queue, charts over the last hour or day from the per-minute rollups, workers
and schedulers, recent failures with a one-click retry. The page refreshes its live part
(``live/``, an HTML fragment) and its charts (``series/``, JSON) every few seconds without a
full reload. Every read is an index range scan or a read of the rollups (jobs/metrics.py), so
the page stays fast with millions of job rows (bench/million.py). Actions call the same
services as the admin actions and are audited.

Permissions (access.rules), as on the admin screens: the page needs jobs.view_queuestate;
workers show with jobs.view_workerheartbeat, failures with jobs.view_jobrecord; pausing
needs jobs.pause_queue, retrying jobs.change_jobrecord (and a money task's permission).
"""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from access import rules
from jobs.core.errors import JobStateError
from jobs.core.queues import logical_queue_name
from jobs.core.registry import find_task
from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from jobs.ops import control, metrics, selectors
from jobs.transport.redis import get_redis

RECENT_FAILURES = 10


VIEW = "jobs.view_queuestate"


def requires(perm: str):
    """The view answers 403 unless the user holds ``perm`` (inside the admin's login check)."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not rules.has(request.user, perm):
                raise PermissionDenied(rules.needs(perm))
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def _live_context(request) -> dict:
    now = timezone.now()
    queues = selectors.queue_stats()
    workers = list(WorkerHeartbeat.objects.order_by("name")) if rules.has(request.user, "jobs.view_workerheartbeat") else []
    lost_after = timedelta(seconds=settings.WORKER_LOST_AFTER)
    every_queue = set(settings.CONVEYOR_QUEUES)
    for worker in workers:
        worker.age = round((now - worker.last_seen).total_seconds(), 1)
        worker.alive = now - worker.last_seen < lost_after
        # A worker listens to four priority-tier lists per queue: show the queues, the lists on hover.
        logical = list(dict.fromkeys(logical_queue_name(name) for name in worker.queues))
        worker.queue_summary = f"all {len(logical)} queues" if set(logical) == every_queue else ", ".join(logical)
        worker.queue_lists = ", ".join(worker.queues)
    try:
        schedulers = metrics.schedulers(get_redis())
    except Exception:
        schedulers = None  # Redis unreachable: shown as unknown
    failures = []
    if rules.has(request.user, "jobs.view_jobrecord"):
        failures = (
            JobRecord.objects.filter(state=State.DEAD)
            .order_by("-finished_at")
            .only("id", "task_name", "queue", "last_error", "finished_at", "attempts")[:RECENT_FAILURES]
        )
    return {
        "queues": queues,
        "workers": workers,
        "schedulers": schedulers,
        "distributed_scheduler": settings.USE_DISTRIBUTED_SCHEDULER,
        "dead_total": sum(q["dead"] for q in queues),
        "failures": failures,
        "can_steer_queues": rules.has(request.user, rules.PAUSE_QUEUE),
        "can_retry": rules.has(request.user, "jobs.change_jobrecord"),
        "now": now,
    }


@requires(VIEW)
def dashboard(request):
    context = {**admin.site.each_context(request), "title": "Operations dashboard", **_live_context(request), "refresh_seconds": 5}
    return TemplateResponse(request, "admin/jobs/dashboard.html", context)


@requires(VIEW)
def live(request):
    """The live part of the page, re-rendered for the refresh."""
    return TemplateResponse(request, "admin/jobs/dashboard_live.html", _live_context(request))


@requires(VIEW)
def series(request):
    """Chart data: ?range=hour (per minute) or day (per 10 minutes)."""
    day = request.GET.get("range") == "day"
    return JsonResponse(metrics.series(hours=24, step_minutes=10) if day else metrics.series(hours=1, step_minutes=1))


@require_POST
@requires(rules.PAUSE_QUEUE)
def queue_action(request, name: str, action: str):
    if name not in settings.CONVEYOR_QUEUES or action not in ("pause", "resume"):
        raise Http404("No such queue or action.")
    service = control.queue_pause if action == "pause" else control.queue_resume
    service(name, actor=request.user, reason="dashboard")
    messages.success(request, f"Queue {name} {'paused' if action == 'pause' else 'resumed'}.")
    return redirect("admin:jobs-dashboard")


@require_POST
@requires("jobs.change_jobrecord")
def job_retry(request, job_id):
    job = JobRecord.objects.filter(pk=job_id).only("task_name").first()
    if job is None:
        raise Http404("No such job.")
    refusal = rules.refusal_to_rerun(request.user, find_task(job.task_name))
    if refusal:
        raise PermissionDenied(refusal)
    try:
        control.job_retry(job_id, actor=request.user, reason="dashboard")
    except JobRecord.DoesNotExist:
        raise Http404("No such job.") from None
    except JobStateError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job {job_id} is queued again.")
    return redirect("admin:jobs-dashboard")


def urls() -> list:
    """Mounted inside the admin (its login, staff check and CSRF), see config/urls.py."""
    view = admin.site.admin_view
    return [
        path("dashboard/", view(dashboard), name="jobs-dashboard"),
        path("dashboard/live/", view(live), name="jobs-dashboard-live"),
        path("dashboard/series/", view(series), name="jobs-dashboard-series"),
        path("dashboard/queues/<str:name>/<str:action>/", view(queue_action), name="jobs-dashboard-queue"),
        path("dashboard/jobs/<uuid:job_id>/retry/", view(job_retry), name="jobs-dashboard-retry"),
    ]
