from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from jobs import services
from jobs.models import AuditEntry, DeadLetterJob, JobAttempt, JobRecord
from jobs.states import State

_STATE_COLOURS = {
    State.PENDING: "#8a8a8a", State.SCHEDULED: "#6f42c1", State.QUEUED: "#417690", State.RUNNING: "#e0a800",
    State.RETRYING: "#fd7e14", State.SUCCEEDED: "#28a745", State.DEAD: "#c82333", State.CANCELLED: "#5a5a5a",
}


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    extra = 0
    can_delete = False
    fields = ("number", "outcome", "started_at", "finished_at", "duration", "worker_name", "exc_type", "exc_message", "traceback_view")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="duration")
    def duration(self, attempt):
        return f"{attempt.duration_ms} ms"

    @admin.display(description="traceback")
    def traceback_view(self, attempt):
        if not attempt.traceback:
            return "-"
        return format_html("<details><summary>show</summary><pre style='white-space:pre-wrap'>{}</pre></details>", attempt.traceback)


def _run_action(modeladmin, request, queryset, service, verb):
    done, refused = 0, []
    for job_id in queryset.values_list("pk", flat=True):
        try:
            service(job_id, actor=request.user, reason=f"admin action: {verb}")
            done += 1
        except services.JobStateError as exc:
            refused.append(str(exc))
    if done:
        modeladmin.message_user(request, f"{verb}: {done} job(s).", messages.SUCCESS)
    for message in refused[:10]:
        modeladmin.message_user(request, message, messages.WARNING)
    if len(refused) > 10:
        modeladmin.message_user(request, f"... and {len(refused) - 10} more refused.", messages.WARNING)


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ("short_id", "task_name", "queue", "state_badge", "priority", "attempts_view", "progress_bar", "created_at", "duration", "subject")
    list_filter = ("state", "queue", "task_name", "priority", ("created_at", admin.DateFieldListFilter))
    search_fields = ("correlation_id", "subject_id", "task_name")
    search_help_text = "Job id, correlation id, subject id or task name."
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over the whole table on every page
    inlines = [JobAttemptInline]
    actions = ["retry_jobs", "requeue_jobs", "cancel_jobs"]
    fieldsets = (
        (None, {"fields": ("id", "task_name", "queue", "state_badge", "priority", "progress_bar", "progress_message")}),
        ("Arguments and result", {"fields": ("args", "kwargs", "result", "last_error")}),
        ("Attempts", {"fields": ("attempts", "max_attempts", "total_attempts", "retry_policy", "timeout")}),
        ("Times", {"fields": ("created_at", "run_at", "enqueued_at", "started_at", "finished_at", "worker_name")}),
        ("Tracing", {"fields": ("correlation_id", "created_by", "subject_type", "subject_id", "audit_trail")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    def has_add_permission(self, request):
        return False  # jobs are created by services, the API and schedules, not typed in

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
            _STATE_COLOURS.get(job.state, "#999"), job.get_state_display(),
        )

    @admin.display(description="attempts")
    def attempts_view(self, job):
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="progress")
    def progress_bar(self, job):
        return format_html('<progress value="{}" max="100" style="width:80px"></progress> {}%', job.progress, job.progress)

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
        url = reverse("admin:jobs_auditentry_changelist") + f"?object_type=job&object_id={job.pk}"
        return format_html('<a href="{}">staff actions on this job</a>', url)

    @admin.action(description="Retry now (retrying, dead or cancelled jobs)", permissions=["change"])
    def retry_jobs(self, request, queryset):
        _run_action(self, request, queryset, services.job_retry, "Retried")

    @admin.action(description="Requeue from the dead-letter queue", permissions=["change"])
    def requeue_jobs(self, request, queryset):
        _run_action(self, request, queryset, services.job_requeue, "Requeued")

    @admin.action(description="Cancel (jobs that have not started)", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        _run_action(self, request, queryset, services.job_cancel, "Cancelled")


@admin.register(DeadLetterJob)
class DeadLetterJobAdmin(JobRecordAdmin):
    list_display = ("short_id", "task_name", "queue", "attempts_view", "last_error", "finished_at", "subject")
    list_filter = ("queue", "task_name", ("finished_at", admin.DateFieldListFilter))
    date_hierarchy = "finished_at"
    actions = ["requeue_jobs"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=State.DEAD)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_label", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label", "reason")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
