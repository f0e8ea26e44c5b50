"""The RQ dashboard (django-rq), read-only, for superusers and holders of django_rq.admin.

django-rq lets any staff member in, and its JSON and metrics endpoints trust ``is_staff``.
Here every one of its pages asks for the django_rq.admin permission ("Access admin page").

Its actions are refused for everyone, superusers too: they act on Redis behind the job
store's back. Emptying a queue or deleting a job there removes only RQ's copy; the
dispatcher then sends every job row that is still waiting again (the database is the source
of truth), so the action misleads and leaves no audit entry. The same acts, audited, are in
the Conveyor admin: cancel, retry and requeue on the job list, clean and pause on the queues.
"""
from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.http import Http404, JsonResponse
from django.template.response import TemplateResponse
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard
from rq.exceptions import NoSuchJobError

from access import rules

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
        for pattern in urls:
            pattern.callback = self._guard(pattern.callback)
        return urls

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
                return self._refused(request, "The RQ dashboard is read-only here: its actions change Redis behind the job "
                                              "records' back and the dispatcher would send the jobs again. Use the Conveyor "
                                              "admin instead, where each action is audited.")
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
