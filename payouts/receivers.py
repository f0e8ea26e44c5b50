"""The payouts app's answers to job events (connected in PayoutsConfig.ready)."""

from __future__ import annotations

from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts.services.processing import PROCESSING_TASKS


def settle_when_processing_dies(sender, job_id, task_name, **kwargs) -> None:
    """A payout job out of attempts (its worker killed once too often, say) leaves the payout
    processing, or approved if it never took it: a settle job decides it (services.settle)."""
    if task_name not in PROCESSING_TASKS:
        return
    args = JobRecord.objects.filter(pk=job_id).values_list("args", flat=True).first()
    if args:
        enqueue("payouts.settle", [args[0]], subject=("payout", args[0]))
