"""Recurring payouts: standing instructions and the payouts their fire times create, exactly once each."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit
from jobs.core.timing import next_fire_after, timing_errors
from payouts.errors import PayoutError
from payouts.models import RecurringPayout
from payouts.services import locks
from payouts.services.base import _amount
from payouts.services.requests import _create


def recurring_due(now: datetime | None = None, limit: int = 500) -> dict:
    """Create the payouts of every standing instruction whose time has come: exactly one per
    instruction and fire time (unique in the database), however many schedulers call this."""
    now = now or timezone.now()
    counts = {"created": 0, "refused": 0}
    for instruction_id in RecurringPayout.objects.filter(enabled=True, next_run_at__lte=now).values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            instruction = locks.due_instruction(instruction_id, now)
            if instruction is None:
                continue  # another scheduler has it
            fire_at = instruction.next_run_at
            instruction.next_run_at = next_fire_after(instruction, max(now, fire_at))
            instruction.save(update_fields=["next_run_at"])
            payee = locks.payee(instruction.payee_id)
            try:
                with transaction.atomic():
                    _create(payee, instruction.amount, payee.currency, recurring=instruction, recurring_fire_at=fire_at)
                counts["created"] += 1
            except IntegrityError:
                continue  # this fire already produced its payout
            except PayoutError as exc:
                counts["refused"] += 1
                audit(
                    "system:payouts",
                    "payout.recurring_refused",
                    "recurring_payout",
                    instruction.pk,
                    exc.message,
                    fire_at=fire_at.isoformat(),
                    amount=str(instruction.amount),
                )
    return counts


def recurring_save(instruction: RecurringPayout, *, actor=None) -> RecurringPayout:
    """Validate and save a standing instruction, computing its next run."""
    _amount(instruction.amount)
    for name, message in timing_errors(instruction.cron, instruction.interval_seconds, instruction.timezone).items():
        raise PayoutError(name, message)
    if instruction.next_run_at is None:
        instruction.next_run_at = next_fire_after(instruction, timezone.now())
    instruction.save()
    audit(actor, "payout.recurring_save", "recurring_payout", instruction.pk, amount=str(instruction.amount))
    return instruction
