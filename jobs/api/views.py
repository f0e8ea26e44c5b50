"""REST API for queues and jobs (/api/v1/). Views call jobs.ops (enqueue, actions, selectors); every
refused input is a 400 naming the field. Every operation asks for the Django permission the
admin asks for the same act (access.rules; docs/api.md has the table): staff status alone
grants nothing, and without the view permission a user sees only the jobs they created."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from access import rules
from access.drf import Needs
from api.actions import ReasonSerializer, reason_of, service_action
from api.pagination import CreatedCursorPagination
from api.schema import LIMIT, PAGE, doc, page_of
from jobs.core import inputs
from jobs.core.errors import JobStateError
from jobs.core.queues import Priority
from jobs.core.registry import find_task
from jobs.core.states import TERMINAL, State
from jobs.models import JobAttempt, JobRecord
from jobs.ops import control, selectors
from jobs.ops.enqueue import enqueue

JobPagination = CreatedCursorPagination  # newest first


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobAttempt
        fields = ("number", "outcome", "started_at", "finished_at", "worker_name", "exc_type", "exc_message")


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRecord
        fields = (
            "id",
            "task_name",
            "queue",
            "state",
            "priority",
            "args",
            "kwargs",
            "attempts",
            "max_attempts",
            "progress",
            "progress_message",
            "result",
            "last_error",
            "dedup_key",
            "correlation_id",
            "subject_type",
            "subject_id",
            "created_at",
            "run_at",
            "enqueued_at",
            "started_at",
            "finished_at",
        )


JOB_PAGE = page_of(JobSerializer, "JobPage")


class JobDetailSerializer(JobSerializer):
    attempt_list = AttemptSerializer(source="attempt_set", many=True, read_only=True)

    class Meta(JobSerializer.Meta):
        fields = JobSerializer.Meta.fields + ("attempt_list",)


class EnqueueSerializer(serializers.Serializer):
    task = serializers.CharField(max_length=200)
    args = serializers.JSONField(required=False, default=list)
    kwargs = serializers.JSONField(required=False, default=dict)
    queue = serializers.CharField(max_length=64, required=False)
    priority = serializers.ChoiceField(choices=[p.name.lower() for p in Priority], required=False)
    delay = serializers.FloatField(required=False, min_value=0, max_value=365 * 24 * 3600)
    dedup_key = serializers.CharField(max_length=255, required=False)


class QueueStatsSerializer(serializers.Serializer):
    name = serializers.CharField()
    paused = serializers.BooleanField()
    waiting = serializers.IntegerField()
    oldest_waiting_seconds = serializers.FloatField(allow_null=True, help_text="Age of the oldest waiting job (null: none).")
    scheduled = serializers.IntegerField()
    running = serializers.IntegerField()
    slots_in_use = serializers.IntegerField(allow_null=True, help_text="Concurrency slots held in Redis (null: Redis unreachable).")
    retrying = serializers.IntegerField()
    dead = serializers.IntegerField(help_text="Failed for good: the dead-letter queue.")
    succeeded_1h = serializers.IntegerField(help_text="Succeeded in the last hour (per-minute rollups).")
    dead_1h = serializers.IntegerField(help_text="Failed for good in the last hour.")
    retries_1h = serializers.IntegerField(help_text="Failed attempts before the final one, of the jobs finished in the last hour.")
    succeeded_per_min = serializers.FloatField(help_text="Averaged over the last five minutes.")
    dead_per_min = serializers.FloatField()
    concurrency = serializers.IntegerField(allow_null=True)
    rate_limit = serializers.ListField(child=serializers.FloatField(), allow_null=True, help_text="[jobs, seconds] or null.")


VIEW_JOBS = rules.VIEW_JOBS
CHANGE_JOBS = "jobs.change_jobrecord"


def _visible_jobs(request):
    return selectors.visible_jobs(request.user)


class JobFilterSerializer(serializers.Serializer):
    """The job list filters, from the query string; each refusal names its parameter."""

    state = serializers.ChoiceField(choices=State.values, required=False)
    queue = serializers.ChoiceField(choices=list(settings.CONVEYOR_QUEUES), required=False)
    task = serializers.CharField(max_length=200, required=False, help_text="Task name.")
    subject_type = serializers.CharField(max_length=64, required=False)
    subject_id = serializers.CharField(max_length=64, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-11-23T10:00:00Z.")
    created_before = serializers.DateTimeField(required=False)


FILTERS = {
    "state": "state",
    "queue": "queue",
    "task": "task_name",
    "subject_type": "subject_type",
    "subject_id": "subject_id",
    "created_after": "created_at__gte",
    "created_before": "created_at__lt",
}
FILTER_PARAMS = [JobFilterSerializer]


def _filtered(request, jobs):
    data = JobFilterSerializer(data=request.query_params)
    data.is_valid(raise_exception=True)
    return jobs.filter(**{FILTERS[name]: value for name, value in data.validated_data.items()})


def _limit(request, default=20, maximum=500) -> int:
    return inputs.parse_count(request.query_params.get("limit", str(default)), "limit", minimum=1, maximum=maximum)


@doc(
    "jobs",
    "List jobs",
    JOB_PAGE,
    params=FILTER_PARAMS + PAGE,
    errors=(400, 401),
    methods=["GET"],
    operation_id="jobs_list",
    description="Holders of jobs.view_jobrecord see every job; everyone else the jobs they created. Newest first.",
)
@doc(
    "jobs",
    "Add a job by task name",
    JobSerializer,
    request=EnqueueSerializer,
    status=201,
    errors=(400, 401, 403),
    methods=["POST"],
    description="Needs jobs.enqueue_task and the task's own permission; only tasks declared enqueueable by name "
    "(never a task that moves money).",
)
@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
def jobs(request):
    """GET: jobs you may see (all with jobs.view_jobrecord; otherwise your own), filtered, newest
    first, cursor-paginated. POST: add a job by task name (jobs.enqueue_task)."""
    if request.method == "POST":
        if not rules.has(request.user, rules.ENQUEUE_TASK):
            return Response({"detail": rules.needs(rules.ENQUEUE_TASK)}, status=status.HTTP_403_FORBIDDEN)
        data = EnqueueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        task = find_task(v["task"])
        if task is None:
            raise ValidationError({"task": [f"no task {v['task']!r}"]})
        refusal = rules.refusal_to_enqueue_by_name(request.user, task)
        if refusal:
            return Response({"detail": refusal}, status=status.HTTP_403_FORBIDDEN)
        options = {k: v[k] for k in ("queue", "dedup_key") if k in v}
        if "priority" in v:
            options["priority"] = Priority[v["priority"].upper()]
        job = enqueue(v["task"], v["args"], v["kwargs"], delay=v.get("delay"), created_by=request.user, **options)
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)
    paginator = JobPagination()
    page = paginator.paginate_queryset(_filtered(request, _visible_jobs(request)), request)
    return paginator.get_paginated_response(JobSerializer(page, many=True).data)


@doc("jobs", "Most recent jobs", JobSerializer(many=True), params=FILTER_PARAMS + [LIMIT], errors=(400, 401))
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def jobs_recent(request):
    jobs = _filtered(request, _visible_jobs(request)).order_by("-created_at")[: _limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@doc("jobs", "Jobs that failed for good (dead), newest first", JobSerializer(many=True), params=[LIMIT], errors=(400, 401))
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def jobs_failed(request):
    jobs = _visible_jobs(request).filter(state=State.DEAD).order_by("-finished_at")[: _limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@doc("jobs", "One job, with its attempts and progress", JobDetailSerializer, errors=(401, 404), methods=["GET"])
@doc("jobs", "Delete a finished job (jobs.delete_jobrecord)", None, status=204, errors=(400, 401, 403, 404), methods=["DELETE"])
@api_view(["GET", "DELETE"])
@permission_classes([permissions.IsAuthenticated])
def job_detail(request, job_id):
    job = get_object_or_404(_visible_jobs(request).prefetch_related("attempt_set"), pk=job_id)
    if request.method == "DELETE":
        if not rules.has(request.user, rules.DELETE_JOBS):
            return Response({"detail": rules.needs(rules.DELETE_JOBS)}, status=status.HTTP_403_FORBIDDEN)
        control.job_delete(job.pk, actor=request.user, reason="API")
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(JobDetailSerializer(job).data)


def _rerun_refusal(request, job) -> str | None:
    return rules.refusal_to_rerun(request.user, find_task(job.task_name))


def _job_action(service, summary, *, rerun: bool):
    return service_action(
        JobRecord,
        service,
        JobSerializer,
        tag="jobs",
        summary=f"{summary} ({CHANGE_JOBS})",
        permission=Needs(CHANGE_JOBS),
        refusal=_rerun_refusal if rerun else None,
    )


job_retry = _job_action(control.job_retry, "Retry a job now", rerun=True)
job_cancel = _job_action(control.job_cancel, "Cancel a job", rerun=False)
job_requeue = _job_action(control.job_requeue, "Requeue a dead job from the dead-letter queue", rerun=True)


VIEW_QUEUES = "jobs.view_queuestate"


@doc("queues", "Every queue with its counts, rates and limits (jobs.view_queuestate)", QueueStatsSerializer(many=True), errors=(401, 403))
@api_view(["GET"])
@permission_classes([Needs(VIEW_QUEUES)])
def queues(request):
    return Response(selectors.queue_stats())


def _queue_or_404(name):
    stats = next((q for q in selectors.queue_stats() if q["name"] == name), None)
    if stats is None:
        raise Http404(f"No queue {name!r}.")
    return stats


@doc("queues", "One queue's counts, rates and limits (jobs.view_queuestate)", QueueStatsSerializer, errors=(401, 403, 404))
@api_view(["GET"])
@permission_classes([Needs(VIEW_QUEUES)])
def queue_detail(request, name):
    return Response(_queue_or_404(name))


def _queue_action(service, summary):
    @doc("queues", f"{summary} ({rules.PAUSE_QUEUE})", QueueStatsSerializer, request=ReasonSerializer)
    @api_view(["POST"])
    @permission_classes([Needs(rules.PAUSE_QUEUE)])
    def action(request, name):
        _queue_or_404(name)
        service(name, actor=request.user, reason=reason_of(request))
        return Response(_queue_or_404(name))

    return action


queue_pause = _queue_action(control.queue_pause, "Pause a queue (running jobs finish; no new starts)")
queue_resume = _queue_action(control.queue_resume, "Resume a queue")


class CleanSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=sorted(TERMINAL), default=State.SUCCEEDED)
    grace = serializers.IntegerField(
        min_value=0, max_value=10 * 365 * 24 * 3600, default=3600, help_text="Only jobs that finished more than this many seconds ago."
    )
    limit = serializers.IntegerField(min_value=1, max_value=10_000, default=1000)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CleanResultSerializer(serializers.Serializer):
    queue = serializers.CharField()
    state = serializers.CharField()
    deleted = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.UUIDField())


@doc("queues", "Clean: delete a queue's old finished jobs (jobs.delete_jobrecord)", CleanResultSerializer, request=CleanSerializer)
@api_view(["POST"])
@permission_classes([Needs(rules.DELETE_JOBS)])
def queue_clean(request, name):
    """Delete a queue's old finished jobs (the seeds' cleanQueue), oldest first; audited."""
    _queue_or_404(name)
    data = CleanSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    ids = control.queue_clean(name, state=v["state"], grace=v["grace"], limit=v["limit"], actor=request.user, reason=v["reason"] or "API")
    return Response({"queue": name, "state": v["state"], "deleted": len(ids), "ids": ids})


@doc(
    "jobs",
    "A user's jobs (about them, or created by them)",
    JobSerializer(many=True),
    params=FILTER_PARAMS + [LIMIT],
    errors=(400, 401, 403),
)
@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def user_jobs(request, user_id: int):
    """The seeds' status/user/:id: a user's jobs (about them, or created by them), newest first.
    The user themself, or holders of jobs.view_jobrecord."""
    refusal = rules.refusal_to_see_jobs_of(request.user, user_id)
    if refusal:
        return Response({"detail": refusal}, status=status.HTTP_403_FORBIDDEN)
    jobs = _filtered(request, selectors.jobs_of_user(user_id)).order_by("-created_at")[: _limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@doc("dead-letter", "The dead-letter queue (jobs.view_jobrecord)", JOB_PAGE, params=FILTER_PARAMS + PAGE, errors=(400, 401, 403))
@api_view(["GET"])
@permission_classes([Needs(VIEW_JOBS)])
def dead_letter(request):
    """Jobs out of attempts, newest first (never removed automatically)."""
    paginator = JobPagination()
    page = paginator.paginate_queryset(_filtered(request, JobRecord.objects.filter(state=State.DEAD)), request)
    return paginator.get_paginated_response(JobSerializer(page, many=True).data)


class RequeueSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=1000)
    reason = serializers.CharField(max_length=500, required=False, default="API")


class RequeueResultSerializer(serializers.Serializer):
    requeued = serializers.ListField(child=serializers.UUIDField())
    refused = serializers.DictField(child=serializers.CharField(), help_text="Job id: why it was not requeued.")


@doc(
    "dead-letter",
    "Requeue one or many dead jobs (jobs.change_jobrecord)",
    RequeueResultSerializer,
    request=RequeueSerializer,
    errors=(400, 401, 403),
)
@api_view(["POST"])
@permission_classes([Needs(CHANGE_JOBS)])
def dead_letter_requeue(request):
    """Requeue one or many dead jobs: {"ids": [...], "reason": "..."}; reports each refusal (a
    job of a task that moves money also needs that task's permission)."""
    data = RequeueSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    requeued, refused = [], {}
    tasks = dict(JobRecord.objects.filter(pk__in=data.validated_data["ids"]).values_list("pk", "task_name"))
    for job_id in data.validated_data["ids"]:
        why = rules.refusal_to_rerun(request.user, find_task(tasks[job_id])) if job_id in tasks else None
        if why:
            refused[str(job_id)] = why
            continue
        try:
            control.job_requeue(job_id, actor=request.user, reason=data.validated_data["reason"])
            requeued.append(str(job_id))
        except (JobStateError, JobRecord.DoesNotExist) as exc:
            refused[str(job_id)] = str(exc) or "no such job"
    return Response({"requeued": requeued, "refused": refused})
