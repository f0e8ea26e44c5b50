"""Staff screens for jobs, queues, schedules and API tokens (the audit trail and notifications have their own apps).

Every screen and action asks for a Django permission (access.rules; docs/api.md has the
table): view_ to see, change_ or a named permission (pause_queue, enqueue_task, a task's own)
to act. Staff status only lets a person log in.
"""

from __future__ import annotations

import uuid
from functools import cached_property

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from access import rules
from jobs.admin.display import clipped, compact_time
from jobs.admin.fields import SafeJSONFormField
from jobs.core.errors import FieldError, JobStateError
from jobs.core.registry import all_tasks, find_task
from jobs.core.states import State
from jobs.models import DeadLetterJob, JobRecord, QueueState, Schedule, ScheduleFire, WorkerHeartbeat
from jobs.ops import control, selectors
from jobs.scheduling import control as schedule_control
from jobs.scheduling import firing
from jobs.web import rq_dashboard

rq_dashboard.install()

_STATE_COLOURS = {
    State.PENDING: "#8a8a8a",
    State.SCHEDULED: "#6f42c1",
    State.QUEUED: "#417690",
    State.RUNNING: "#e0a800",
    State.RETRYING: "#fd7e14",
    State.SUCCEEDED: "#28a745",
    State.DEAD: "#c82333",
    State.CANCELLED: "#5a5a5a",
}


def run_each(modeladmin, request, ids, service, verb: str, *, noun: str = "job", refusals=(JobStateError,), refusal=None) -> None:
    """Call ``service(pk, actor=..., reason=...)`` for each id; report what was done and what the
    service refused (its error says why). ``refusal(pk)`` may refuse an object first (a reason,
    or None). Shared by every admin action that calls a service."""
    done, refused = 0, []
    for pk in ids:
        why = refusal(pk) if refusal else None
        if why:
            refused.append(f"#{pk}: {why}")
            continue
        try:
            service(pk, actor=request.user, reason=f"admin action: {verb}")
            done += 1
        except refusals as exc:
            refused.append(f"#{pk}: {getattr(exc, 'message', exc)}")
    if done:
        modeladmin.message_user(request, f"{verb}: {done} {noun}(s).", messages.SUCCESS)
    for message in refused[:10]:
        modeladmin.message_user(request, message, messages.WARNING)
    if len(refused) > 10:
        modeladmin.message_user(request, f"... and {len(refused) - 10} more refused.", messages.WARNING)


def _run_action(modeladmin, request, queryset, service, verb, *, rerun: bool = False):
    """``rerun``: the action runs the jobs again, so a money task's jobs also need its permission."""
    tasks = dict(queryset.values_list("pk", "task_name"))
    refusal = (lambda pk: rules.refusal_to_rerun(request.user, find_task(tasks[pk]))) if rerun else None
    run_each(modeladmin, request, list(tasks), service, verb, refusal=refusal)


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows (a LIMITed subquery), so a page of a table with millions of jobs
    never pays for a full COUNT(*). The admin then offers the first CAP / per_page pages; filters
    narrow the list."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: self.CAP].count()


class KnownValuesFilter(admin.SimpleListFilter):
    """A filter on ``parameter_name`` (a field) whose choices come from configuration, not from a
    SELECT DISTINCT over every job (seconds on a million rows)."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(name, name) for name in self.names()]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class TaskFilter(KnownValuesFilter):
    """Task names from the task registry."""

    title = "task"
    parameter_name = "task_name"

    def names(self):
        return sorted(all_tasks())


class QueueFilter(KnownValuesFilter):
    """Queues from settings."""

    title = "queue"
    parameter_name = "queue"

    def names(self):
        return list(settings.CONVEYOR_QUEUES)


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    # What fits a 1,280 px screen: priority and subject are filters and search (tests/e2e/test_screens_browser.py).
    list_display = ("short_id", "task_name", "queue", "state_badge", "attempts_view", "progress_bar", "created", "duration")
    # Built for millions of rows (bench/million.py): every filter is an indexed equality or range,
    # search is exact (indexed), no date hierarchy (its year list is a scan), counts are capped.
    list_filter = ("state", QueueFilter, TaskFilter, "priority", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=correlation_id", "=subject_id", "=task_name")
    search_help_text = "Exact job id, correlation id, subject id or task name."
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    actions = ["retry_jobs", "requeue_jobs", "cancel_jobs"]
    # A job page is a record, never a form: what happened first (state, progress, attempts, times),
    # then what it was asked to do; the actions that apply are buttons at the top.
    change_form_template = "admin/jobs/jobrecord/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "task_name",
                    "queue",
                    "state_badge",
                    "priority",
                    "progress_bar",
                    "progress_message",
                    "attempts_view",
                    "timings",
                    "last_error",
                )
            },
        ),
        ("Attempts", {"fields": ("attempt_table",)}),
        ("Arguments and result", {"fields": ("args", "kwargs", "result", "dedup_key", "cancel_requested")}),
        ("Policy", {"fields": ("max_attempts", "total_attempts", "retry_policy", "timeout", "run_at", "enqueued_at", "worker_name")}),
        ("Tracing", {"fields": ("correlation_id", "created_by", "subject_type", "subject_id", "audit_trail")}),
    )
    OBJECT_ACTIONS = {  # action: (label, service, the states it applies to, runs the job again)
        "retry": ("Retry now", control.job_retry, {State.RETRYING, State.DEAD, State.CANCELLED}, True),
        "requeue": ("Requeue from the dead-letter queue", control.job_requeue, {State.DEAD}, True),
        "cancel": ("Cancel", control.job_cancel, {State.PENDING, State.SCHEDULED, State.QUEUED, State.RETRYING, State.RUNNING}, False),
    }

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_change_permission(self, request, obj=None):
        # The change permission allows the actions; a job itself is never edited, so its page is
        # view-only ("View job record", no Save buttons) for everyone.
        return obj is None and super().has_change_permission(request)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_act"
        return [path("<path:object_id>/act/<str:action>/", self.admin_site.admin_view(self.object_action), name=name), *super().get_urls()]

    def _actions_for(self, request, job) -> list[dict]:
        if not self.has_change_permission(request):
            return []
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_act"
        return [
            {"label": label, "url": reverse(name, args=[job.pk, action]), "key": action}
            for action, (label, _service, states, rerun) in self.OBJECT_ACTIONS.items()
            if job.state in states and not (rerun and rules.refusal_to_rerun(request.user, find_task(job.task_name)))
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = {"job_actions": self._actions_for(request, job) if job else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def object_action(self, request, object_id, action):
        """One action from the job page's buttons (POST), with the same rules as the list's actions."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        job = self.get_object(request, object_id)
        if job is None or action not in self.OBJECT_ACTIONS:
            raise Http404("No such job or action.")
        label, service, _states, rerun = self.OBJECT_ACTIONS[action]
        refusal = rules.needs("jobs.change_jobrecord") if not self.has_change_permission(request) else None
        refusal = refusal or (rules.refusal_to_rerun(request.user, find_task(job.task_name)) if rerun else None)
        if refusal:
            raise PermissionDenied(refusal)
        try:
            service(job.pk, actor=request.user, reason=f"admin: {label.lower()}")
        except JobStateError as exc:
            self.message_user(request, str(exc), messages.WARNING)
        else:
            self.message_user(request, f"{label}: done.", messages.SUCCESS)
        return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[job.pk]))

    def has_add_permission(self, request):
        return False  # jobs are created by actions, the API and schedules, not typed in

    def has_delete_permission(self, request, obj=None):
        return False  # job history is evidence; retention rules remove old rows

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            return queryset.filter(Q(pk=uuid.UUID(term)) | Q(correlation_id=term)), False
        except ValueError:
            return super().get_search_results(request, queryset, search_term)

    @admin.display(description="id")
    def short_id(self, job):
        return str(job.pk)[:8]

    @admin.display(description="state", ordering="state")
    def state_badge(self, job):
        return format_html(
            '<span style="background:{};color:#fff;padding:2px 6px;border-radius:8px">{}</span>',
            _STATE_COLOURS.get(job.state, "#999"),
            job.get_state_display(),
        )

    @admin.display(description="attempts")
    def attempts_view(self, job):
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="times")
    def timings(self, job):
        parts = [f"created {compact_time(job.created_at)}"]
        if job.started_at:
            parts.append(f"started {compact_time(job.started_at)}")
        if job.finished_at:
            parts.append(f"finished {compact_time(job.finished_at)}")
        if job.started_at and job.finished_at:
            parts.append(f"ran {(job.finished_at - job.started_at).total_seconds():.2f} s")
        if job.run_at and not job.finished_at:
            parts.append(f"next run {compact_time(job.run_at)}")
        return " · ".join(parts)

    @admin.display(description="attempts")
    def attempt_table(self, job):
        attempts = list(job.attempt_set.order_by("number"))
        if not attempts:
            return "No attempt yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    a.number,
                    a.get_outcome_display(),
                    compact_time(a.started_at),
                    a.duration_ms,
                    clipped(a.worker_name, 24),
                    clipped(f"{a.exc_type}: {a.exc_message}" if a.exc_type else "", 80),
                    format_html("<details><summary>traceback</summary><pre style='white-space:pre-wrap'>{}</pre></details>", a.traceback)
                    if a.traceback
                    else "",
                )
                for a in attempts
            ),
        )
        return format_html(
            "<table><tr><th>#</th><th>outcome</th><th>started</th><th>took</th><th>worker</th><th>error</th><th></th></tr>{}</table>", rows
        )

    @admin.display(description="progress")
    def progress_bar(self, job):
        return format_html('<progress value="{}" max="100" style="width:50px"></progress> {}%', job.progress, job.progress)

    @admin.display(description="created", ordering="created_at")
    def created(self, job):
        return compact_time(job.created_at)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, job):
        return compact_time(job.finished_at)

    @admin.display(description="last error")
    def error_short(self, job):
        return clipped(job.last_error, 60)

    @admin.display(description="run time")
    def duration(self, job):
        if job.started_at and job.finished_at:
            return f"{(job.finished_at - job.started_at).total_seconds():.2f} s"
        return "-"

    @admin.display(description="subject")
    def subject(self, job):
        return f"{job.subject_type}:{job.subject_id}" if job.subject_type else "-"

    @admin.display(description="audit trail")
    def audit_trail(self, job):
        url = reverse("admin:audit_auditentry_changelist") + f"?object_type=job&object_id={job.pk}"
        return format_html('<a href="{}">staff actions on this job</a>', url)

    @admin.action(description="Retry now (retrying, dead or cancelled jobs)", permissions=["change"])
    def retry_jobs(self, request, queryset):
        _run_action(self, request, queryset, control.job_retry, "Retried", rerun=True)

    @admin.action(description="Requeue from the dead-letter queue", permissions=["change"])
    def requeue_jobs(self, request, queryset):
        _run_action(self, request, queryset, control.job_requeue, "Requeued", rerun=True)

    @admin.action(description="Cancel (running jobs stop at their next progress report)", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        _run_action(self, request, queryset, control.job_cancel, "Cancelled")


@admin.register(DeadLetterJob)
class DeadLetterJobAdmin(JobRecordAdmin):
    list_display = ("short_id", "task_name", "queue", "attempts_view", "error_short", "finished")
    list_filter = (QueueFilter, TaskFilter, ("finished_at", admin.DateFieldListFilter))
    actions = ["requeue_jobs"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=State.DEAD)

    # The dead-letter queue is a view of the job table: the same permissions as the job list.
    def has_view_permission(self, request, obj=None):
        return rules.has(request.user, "jobs.view_jobrecord") or rules.has(request.user, "jobs.change_jobrecord")

    def has_change_permission(self, request, obj=None):
        return obj is None and rules.has(request.user, "jobs.change_jobrecord")

    def has_module_permission(self, request):
        return self.has_view_permission(request)


@admin.register(QueueState)
class QueueStateAdmin(admin.ModelAdmin):
    """Every queue with its load and limits; pause and resume from here."""

    list_display = ("name", "status", "waiting", "running", "retrying", "dead", "rate_limit", "last_change")
    list_filter = ("paused",)
    actions = ["pause_queues", "resume_queues", "clean_succeeded"]
    readonly_fields = ("name", "paused", "changed_at", "changed_by", "reason")

    def has_pause_permission(self, request):
        return rules.has(request.user, rules.PAUSE_QUEUE)

    def has_clean_permission(self, request):
        return rules.has(request.user, rules.DELETE_JOBS)

    def changelist_view(self, request, extra_context=None):
        self._stats = {row["name"]: row for row in selectors.queue_stats()}
        return super().changelist_view(request, extra_context)

    def _stat(self, queue, key):
        return getattr(self, "_stats", {}).get(queue.name, {}).get(key, "-")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="last change", ordering="changed_at")
    def last_change(self, queue):
        who = queue.changed_by.get_username() if queue.changed_by else "system"
        return clipped(f"{compact_time(queue.changed_at)} by {who}" + (f": {queue.reason}" if queue.reason else ""), 45)

    @admin.display(description="status", ordering="paused")
    def status(self, queue):
        colour, label = ("#c82333", "paused") if queue.paused else ("#28a745", "running")
        return format_html('<span style="color:{};font-weight:bold">{}</span>', colour, label)

    @admin.display(description="waiting")
    def waiting(self, queue):
        url = reverse("admin:jobs_jobrecord_changelist") + f"?queue={queue.name}&state__exact=queued"
        return format_html('<a href="{}">{}</a>', url, self._stat(queue, "waiting"))

    @admin.display(description="running / cap")
    def running(self, queue):
        cap = self._stat(queue, "concurrency")
        return f"{self._stat(queue, 'running')} / {cap or 'unlimited'}"

    @admin.display(description="retrying")
    def retrying(self, queue):
        return self._stat(queue, "retrying")

    @admin.display(description="dead")
    def dead(self, queue):
        url = reverse("admin:jobs_deadletterjob_changelist") + f"?queue={queue.name}"
        return format_html('<a href="{}">{}</a>', url, self._stat(queue, "dead"))

    @admin.display(description="rate limit")
    def rate_limit(self, queue):
        limit = self._stat(queue, "rate_limit")
        return f"{limit[0]} per {limit[1]:g}s" if limit and limit != "-" else "-"

    def _act(self, request, queryset, service, verb):
        for queue in queryset:
            service(queue.name, actor=request.user, reason=f"admin action: {verb}")
        self.message_user(request, f"{verb}: {', '.join(q.name for q in queryset)}.", messages.SUCCESS)

    @admin.action(description="Pause (running jobs finish; no new starts)", permissions=["pause"])
    def pause_queues(self, request, queryset):
        self._act(request, queryset, control.queue_pause, "Paused")

    @admin.action(description="Resume", permissions=["pause"])
    def resume_queues(self, request, queryset):
        self._act(request, queryset, control.queue_resume, "Resumed")

    @admin.action(description="Clean: delete succeeded jobs that finished over an hour ago", permissions=["clean"])
    def clean_succeeded(self, request, queryset):
        for queue in queryset:
            ids = control.queue_clean(
                queue.name, state=State.SUCCEEDED, grace=3600, limit=10_000, actor=request.user, reason="admin action: clean"
            )
            self.message_user(request, f"{queue.name}: deleted {len(ids)} succeeded jobs.", messages.SUCCESS)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("name", "hostname", "pid", "heartbeat_age", "current_job", "jobs_done", "started_at")
    readonly_fields = ("name", "hostname", "pid", "queues", "started_at", "last_seen", "current_job", "jobs_done")

    @admin.display(description="heartbeat age", ordering="last_seen")
    def heartbeat_age(self, worker):
        return f"{(timezone.now() - worker.last_seen).total_seconds():.0f} s"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScheduleFireInline(admin.TabularInline):
    model = ScheduleFire
    extra = 0
    can_delete = False
    fields = ("fire_time", "missed", "job_link", "created_at")
    readonly_fields = fields
    ordering = ["-fire_time"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="job")
    def job_link(self, fire):
        if not fire.job_id:
            return "-"
        url = reverse("admin:jobs_jobrecord_change", args=[fire.job_id])
        return format_html('<a href="{}">{}</a>', url, str(fire.job_id)[:8])


class ScheduleForm(forms.ModelForm):
    """A schedule names a task; adding or changing one needs the permission to start that task
    (access.rules.refusal_to_start), so a schedule is no way round the task's own rules."""

    class Meta:
        model = Schedule
        fields = (
            "name",
            "task_name",
            "args",
            "kwargs",
            "queue",
            "priority",
            "enabled",
            "cron",
            "interval_seconds",
            "timezone",
            "missed_fires",
        )
        field_classes = {"args": SafeJSONFormField, "kwargs": SafeJSONFormField}

    def clean(self):
        cleaned = super().clean()
        names = {cleaned.get("task_name"), self.instance.task_name if self.instance.pk else None} - {None, ""}
        for name in sorted(names):
            task = find_task(name)
            refusal = rules.refusal_to_start(self.request_user, task) if task else None
            if refusal:
                self.add_error("task_name" if name == cleaned.get("task_name") else None, refusal)
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Recurring schedules. Changes apply within a second: every scheduler reads them on each tick."""

    form = ScheduleForm

    list_display = ("name_short", "task_name", "timing", "enabled", "next_fire", "last_fire", "last_job_link", "problem")
    list_filter = ("enabled", "task_name")
    search_fields = ("name", "task_name")
    readonly_fields = ("next_fire_at", "last_fire_at", "last_job", "last_error", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "task_name", "args", "kwargs", "queue", "priority", "enabled")}),
        ("Timing", {"fields": ("cron", "interval_seconds", "timezone", "missed_fires")}),
        ("State", {"fields": ("next_fire_at", "last_fire_at", "last_job", "last_error", "updated_at")}),
    )
    inlines = [ScheduleFireInline]
    actions = ["fire_now", "enable", "disable"]

    @admin.display(description="name", ordering="name")
    def name_short(self, schedule):
        return clipped(schedule.name, 32)

    @admin.display(description="when")
    def timing(self, schedule):
        when = schedule.cron or f"every {schedule.interval_seconds} s"
        return when if schedule.timezone == "UTC" else clipped(f"{when} ({schedule.timezone})", 36)

    @admin.display(description="next fire", ordering="next_fire_at")
    def next_fire(self, schedule):
        return compact_time(schedule.next_fire_at)

    @admin.display(description="last fire", ordering="last_fire_at")
    def last_fire(self, schedule):
        return compact_time(schedule.last_fire_at)

    @admin.display(description="last error")
    def problem(self, schedule):
        return clipped(schedule.last_error, 30)

    @admin.display(description="last job")
    def last_job_link(self, schedule):
        if not schedule.last_job_id:
            return "-"
        url = reverse("admin:jobs_jobrecord_change", args=[schedule.last_job_id])
        return format_html('<a href="{}">{}</a>', url, str(schedule.last_job_id)[:8])

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.request_user = request.user
        return form

    def save_model(self, request, obj, form, change):
        schedule_control.schedule_save(obj, actor=request.user, changed=form.changed_data, reason="changed in the admin")

    def _refusal(self, request, schedule) -> str | None:
        task = find_task(schedule.task_name)
        return rules.refusal_to_start(request.user, task) if task else f"no task {schedule.task_name!r}"

    @admin.action(description="Run now (outside the timetable)", permissions=["change"])
    def fire_now(self, request, queryset):
        def fire(pk, *, actor, reason):
            firing.fire_now(Schedule.objects.get(pk=pk), actor=actor)

        schedules = {s.pk: s for s in queryset}
        run_each(
            self,
            request,
            list(schedules),
            fire,
            "Enqueued a job for",
            noun="schedule",
            refusal=lambda pk: self._refusal(request, schedules[pk]),
            refusals=(JobStateError, FieldError),
        )

    @admin.action(description="Enable", permissions=["change"])
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)

    def _set_enabled(self, request, queryset, enabled: bool):
        def apply(pk, *, actor, reason):
            schedule_control.schedule_set_enabled(pk, enabled, actor=actor, reason=reason)

        schedules = {s.pk: s for s in queryset}
        run_each(
            self,
            request,
            list(schedules),
            apply,
            "Enabled" if enabled else "Disabled",
            noun="schedule",
            refusal=(lambda pk: self._refusal(request, schedules[pk])) if enabled else None,
        )


from jobs.admin import webhooks as _webhooks  # noqa: E402,F401  (registers the webhook screens)
