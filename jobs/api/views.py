"""REST API for queues and jobs (/api/v1/). Views call jobs.services and jobs.selectors; every
refused input is a 400 naming the field."""
from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from rest_framework import permissions, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from jobs import selectors, services
from jobs.models import JobAttempt, JobRecord
from jobs.queues import Priority
from jobs.states import State


class JobPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobAttempt
        fields = ("number", "outcome", "started_at", "finished_at", "worker_name", "exc_type", "exc_message")


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRecord
        fields = ("id", "task_name", "queue", "state", "priority", "args", "kwargs", "attempts", "max_attempts", "progress",
                  "progress_message", "result", "last_error", "dedup_key", "correlation_id", "subject_type", "subject_id",
                  "created_at", "run_at", "enqueued_at", "started_at", "finished_at")


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


class IsStaff(permissions.BasePermission):
    message = "Staff only."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _visible_jobs(request):
    jobs = JobRecord.objects.all()
    return jobs if request.user.is_staff else jobs.filter(created_by=request.user)


FILTERS = {"state": "state", "queue": "queue", "task": "task_name", "subject_type": "subject_type", "subject_id": "subject_id"}


def _filtered(request, jobs):
    params = request.query_params
    if "state" in params and params["state"] not in State.values:
        raise ValidationError({"state": [f"must be one of {', '.join(State.values)}"]})
    if "queue" in params and params["queue"] not in settings.CONVEYOR_QUEUES:
        raise ValidationError({"queue": [f"unknown queue; use one of {', '.join(settings.CONVEYOR_QUEUES)}"]})
    jobs = jobs.filter(**{field: params[name] for name, field in FILTERS.items() if name in params})
    for name, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt")):
        if name in params:
            moment = parse_datetime(params[name]) if params[name] else None
            if moment is None:
                raise ValidationError({name: ["must be an ISO 8601 date-time, e.g. 2026-11-23T10:00:00Z"]})
            jobs = jobs.filter(**{lookup: moment})
    return jobs


def _limit(request, default=20, maximum=500) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise ValidationError({"limit": [f"must be a whole number from 1 to {maximum}"]})
    return int(raw)


@api_view(["GET", "POST"])
@permission_classes([permissions.IsAuthenticated])
def jobs(request):
    """GET: jobs you may see (staff: all; others: their own), filtered, newest first, cursor-paginated.
    POST (staff): add a job by task name."""
    if request.method == "POST":
        if not request.user.is_staff:
            return Response({"detail": "Staff only."}, status=status.HTTP_403_FORBIDDEN)
        data = EnqueueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        options = {k: v[k] for k in ("queue", "dedup_key") if k in v}
        if "priority" in v:
            options["priority"] = Priority[v["priority"].upper()]
        try:
            job = services.enqueue(v["task"], v["args"], v["kwargs"], delay=v.get("delay"), created_by=request.user, **options)
        except services.InvalidJob as exc:
            raise ValidationError({"task" if exc.field == "task" else exc.field: [exc.message]}) from None
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)
    paginator = JobPagination()
    page = paginator.paginate_queryset(_filtered(request, _visible_jobs(request)), request)
    return paginator.get_paginated_response(JobSerializer(page, many=True).data)


@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def jobs_recent(request):
    jobs = _filtered(request, _visible_jobs(request)).order_by("-created_at")[:_limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def jobs_failed(request):
    jobs = _visible_jobs(request).filter(state=State.DEAD).order_by("-finished_at")[:_limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@api_view(["GET", "DELETE"])
@permission_classes([permissions.IsAuthenticated])
def job_detail(request, job_id):
    job = get_object_or_404(_visible_jobs(request).prefetch_related("attempt_set"), pk=job_id)
    if request.method == "DELETE":
        if not request.user.is_staff:
            return Response({"detail": "Staff only."}, status=status.HTTP_403_FORBIDDEN)
        try:
            services.job_delete(job.pk, actor=request.user, reason="API")
        except services.JobStateError as exc:
            return Response({"state": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(JobDetailSerializer(job).data)


def service_action(model, service, serializer, refusals, refusal_body):
    """A staff-only POST that calls ``service(pk, actor=..., reason=...)`` on one object and returns
    it serialised; a refusal (one of ``refusals``) is a 400 with ``refusal_body(exc)``."""
    @api_view(["POST"])
    @permission_classes([IsStaff])
    def action(request, pk):
        get_object_or_404(model, pk=pk)
        try:
            changed = service(pk, actor=request.user, reason=str(request.data.get("reason", ""))[:500] or "API")
        except refusals as exc:
            raise ValidationError(refusal_body(exc)) from None
        return Response(serializer(model.objects.get(pk=changed.pk)).data)
    return action


def _job_action(service):
    return service_action(JobRecord, service, JobSerializer, services.JobStateError, lambda exc: {"state": [str(exc)]})


job_retry = _job_action(services.job_retry)
job_cancel = _job_action(services.job_cancel)
job_requeue = _job_action(services.job_requeue)


@api_view(["GET"])
@permission_classes([IsStaff])
def queues(request):
    return Response(selectors.queue_stats())


def _queue_or_404(name):
    from django.http import Http404

    stats = next((q for q in selectors.queue_stats() if q["name"] == name), None)
    if stats is None:
        raise Http404(f"No queue {name!r}.")
    return stats


@api_view(["GET"])
@permission_classes([IsStaff])
def queue_detail(request, name):
    return Response(_queue_or_404(name))


def _queue_action(service):
    @api_view(["POST"])
    @permission_classes([IsStaff])
    def action(request, name):
        _queue_or_404(name)
        service(name, actor=request.user, reason=str(request.data.get("reason", ""))[:500] or "API")
        return Response(_queue_or_404(name))
    return action


queue_pause = _queue_action(services.queue_pause)
queue_resume = _queue_action(services.queue_resume)


@api_view(["GET"])
@permission_classes([permissions.IsAuthenticated])
def user_jobs(request, user_id: int):
    """The seeds' status/user/:id: a user's jobs (about them, or created by them), newest first.
    The user themself or staff."""
    if not (request.user.is_staff or request.user.pk == user_id):
        return Response({"detail": "You may see only your own jobs."}, status=status.HTTP_403_FORBIDDEN)
    from django.db.models import Q

    jobs = JobRecord.objects.filter(Q(subject_type="user", subject_id=str(user_id)) | Q(created_by_id=user_id))
    jobs = _filtered(request, jobs).order_by("-created_at")[:_limit(request)]
    return Response(JobSerializer(jobs, many=True).data)


@api_view(["GET"])
@permission_classes([IsStaff])
def dead_letter(request):
    """Jobs out of attempts, newest first (never removed automatically)."""
    paginator = JobPagination()
    page = paginator.paginate_queryset(_filtered(request, JobRecord.objects.filter(state=State.DEAD)), request)
    return paginator.get_paginated_response(JobSerializer(page, many=True).data)


class RequeueSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=1000)
    reason = serializers.CharField(max_length=500, required=False, default="API")


@api_view(["POST"])
@permission_classes([IsStaff])
def dead_letter_requeue(request):
    """Requeue one or many dead jobs: {"ids": [...], "reason": "..."}; reports each refusal."""
    data = RequeueSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    requeued, refused = [], {}
    for job_id in data.validated_data["ids"]:
        try:
            services.job_requeue(job_id, actor=request.user, reason=data.validated_data["reason"])
            requeued.append(str(job_id))
        except (services.JobStateError, JobRecord.DoesNotExist) as exc:
            refused[str(job_id)] = str(exc) or "no such job"
    return Response({"requeued": requeued, "refused": refused})
