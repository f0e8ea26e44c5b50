from django.apps import AppConfig

SETTLED_TASKS = ("payouts.process", "payouts.fallback")


def settle_when_processing_dies(sender, job_id, task_name, **kwargs) -> None:
    """A payout job out of attempts (its worker killed once too often, say) leaves the payout
    processing: a settle job asks the providers what happened and finishes it."""
    if task_name not in SETTLED_TASKS:
        return
    from jobs.models import JobRecord
    from jobs.ops.enqueue import enqueue

    args = JobRecord.objects.filter(pk=job_id).values_list("args", flat=True).first()
    if args:
        enqueue("payouts.settle", [args[0]], subject=("payout", args[0]))


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self) -> None:
        from jobs.core.signals import job_dead

        job_dead.connect(settle_when_processing_dies, dispatch_uid="payouts.settle_when_processing_dies")
