"""Per-user analytics (the seeds' hourly processUserData), on the job core."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from jobs.models import JobRecord
from jobs.services import JobSpec, enqueue_many


def analytics_fan_out(user_ids=None, *, created_by=None) -> dict:
    """One `analytics.user` job per active user (or per given id), in one bulk insert and one
    pipelined dispatch. A user whose previous job is still waiting or running gets no second one
    (the task's dedup key "user analytics for user N")."""
    users = get_user_model().objects.filter(is_active=True)
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    ids = list(users.order_by("pk").values_list("pk", flat=True))
    jobs = enqueue_many([JobSpec("analytics.user", [uid], subject=("user", uid)) for uid in ids], created_by=created_by)
    duplicates = sum(1 for job in jobs if getattr(job, "deduplicated", False))
    return {"users": len(ids), "enqueued": len(jobs) - duplicates, "already_waiting": duplicates}


def user_figures(user_id: int) -> dict:
    """The figures kept per user. Payout and ledger figures join when the payouts app lands."""
    user = get_user_model().objects.filter(pk=user_id).values("last_login", "date_joined").first()
    if user is None:
        return {"user": user_id, "missing": True}
    since = timezone.now() - timedelta(hours=24)
    jobs = JobRecord.objects.filter(subject_type="user", subject_id=str(user_id), created_at__gte=since)
    return {
        "user": user_id,
        "jobs_last_24h": jobs.count(),
        "last_login": user["last_login"].isoformat() if user["last_login"] else None,
    }
