from django.apps import AppConfig

from jobs.core.signals import job_dead


class PayoutsConfig(AppConfig):
    name = "payouts"
    verbose_name = "Payouts"

    def ready(self) -> None:
        # Django app loading: receivers imports models, importable only once the registry is ready.
        from payouts import receivers  # noqa: PLC0415

        job_dead.connect(receivers.settle_when_processing_dies, dispatch_uid="payouts.settle_when_processing_dies")
