"""The payouts app's answers to job events (connected in PayoutsConfig.ready)."""

from __future__ import annotations

from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue

SETTLED_TASKS = ("payouts.process", "payouts.fallback")


def settle_when_processing_dies(sender, job_id, task_name, **kwargs) -> None:
    """A payout job out of attempts (its worker killed once too often, say) leaves the payout
    processing: a settle job asks the providers what happened and finishes it."""
    if task_name not in SETTLED_TASKS:
        return
    args = JobRecord.objects.filter(pk=job_id).values_list("args", flat=True).first()
    if args:
        enqueue("payouts.settle", [args[0]], subject=("payout", args[0]))
