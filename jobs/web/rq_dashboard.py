"""The RQ dashboard (django-rq), read-only, for superusers and holders of django_rq.admin.

django-rq lets any staff member in, and its JSON and metrics endpoints trust ``is_staff``.
Here every one of its pages asks for the django_rq.admin permission ("Access admin page").

Its front page is Conveyor's own overview: one row per queue (its four priority-tier lists
summed, the non-empty lists linked to django-rq's pages), and what RQ cannot see (retrying,
scheduled and dead jobs, history, limits live in the database) pointed to the dashboard.
django-rq's page of every list stays at ``all-lists/``.

Its actions are refused for everyone, superusers too: they act on Redis behind the job
store's back. Emptying a queue or deleting a job there removes only RQ's copy; the
dispatcher then sends every job row that is still waiting again (the database is the source
of truth), so the action misleads and leaves no audit entry. The same acts, audited, are in
the Conveyor admin: cancel, retry and requeue on the job list, clean and pause on the queues.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib import admin
from django.http import Http404, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path
from django_rq import stats_views
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard
from django_rq.utils import get_statistics
from rq.exceptions import NoSuchJobError

from access import rules
from jobs.core.queues import logical_queue_name

JSON_VIEWS = ("stats_json", "prometheus_metrics")


class GuardedRQDashboard(QueueAdmin):
    actions = None

    def has_delete_permission(self, request, obj=None):
        return False

    def _allowed(self, request) -> bool:
        return rules.has(request.user, rules.RQ_DASHBOARD)

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def get_urls(self):
        # django-rq's pages and the changelist (its dashboard); not the generic add/change/delete/
        # history pages a ModelAdmin adds, which would query a table this unmanaged model lacks.

        generic = {p.name for p in admin.ModelAdmin.get_urls(self) if p.name != "django_rq_dashboard_changelist"}
        urls = [p for p in super().get_urls() if p.name not in generic and str(p.pattern) != "<path:object_id>/"]

        def in_admin(view):  # as django-rq wraps its own views: its templates name URLs by the admin's namespace
            @wraps(view)
            def wrapper(request, *args, **kwargs):
                request.current_app = self.admin_site.name
                return self.admin_site.admin_view(view)(request, *args, **kwargs)

            return wrapper

        urls.insert(0, path("all-lists/", in_admin(stats_views.stats), name="django_rq_all_lists"))
        for pattern in urls:
            if pattern.name in ("django_rq_home", "django_rq_dashboard_changelist"):
                pattern.callback = in_admin(self.overview)
            pattern.callback = self._guard(pattern.callback)
        return urls

    def overview(self, request):
        """One row per logical queue: what Redis holds for it, over its four tier lists."""
        rows: dict[str, dict] = {}
        for tier_list in get_statistics()["queues"]:
            name = logical_queue_name(tier_list["name"])
            row = rows.setdefault(
                name, {"name": name, "jobs": 0, "started_jobs": 0, "failed_jobs": 0, "finished_jobs": 0, "workers": 0, "lists": []}
            )
            for key in ("jobs", "started_jobs", "failed_jobs", "finished_jobs"):
                row[key] += tier_list[key]
            row["workers"] = max(row["workers"], tier_list["workers"])
            if tier_list["jobs"] or tier_list["started_jobs"] or tier_list["failed_jobs"]:
                row["lists"].append(tier_list)
        order = {name: i for i, name in enumerate(settings.CONVEYOR_QUEUES)}
        queues = sorted(rows.values(), key=lambda row: order.get(row["name"], len(order)))
        context = {**self.admin_site.each_context(request), "title": "RQ: what Redis holds", "queues": queues, "opts": self.model._meta}
        return TemplateResponse(request, "admin/jobs/rq_overview.html", context)

    def _guard(self, view):
        json_view = getattr(view, "__name__", "") in JSON_VIEWS

        @wraps(view)
        def guarded(request, *args, **kwargs):
            if json_view and not self._allowed(request):
                status = 403 if request.user.is_authenticated else 401
                return JsonResponse({"error": True, "description": rules.needs(rules.RQ_DASHBOARD)}, status=status)
            if not request.user.is_authenticated or not request.user.is_staff:
                return view(request, *args, **kwargs)  # the admin's own wrapper sends them to the login page
            if not self._allowed(request):
                return self._refused(request, rules.needs(rules.RQ_DASHBOARD))
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                return self._refused(
                    request,
                    "The RQ dashboard is read-only here: its actions change Redis behind the job "
                    "records' back and the dispatcher would send the jobs again. Use the Conveyor "
                    "admin instead, where each action is audited.",
                )
            try:
                return view(request, *args, **kwargs)
            except (NoSuchJobError, ValueError):  # a job id or worker key that is not there (django-rq answers 500)
                raise Http404("No such job or worker in Redis.") from None

        return guarded

    def _refused(self, request, message: str):
        context = {**self.admin_site.each_context(request), "title": "Not allowed", "message": message}
        return TemplateResponse(request, "admin/jobs/refused.html", context, status=403)


def install(site=admin.site) -> None:
    if site.is_registered(Dashboard):
        site.unregister(Dashboard)
    site.register(Dashboard, GuardedRQDashboard)
