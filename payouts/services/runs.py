"""Payout runs: one payout per payee for the available balance, planned and created in batches."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit
from jobs.ops.enqueue import JobSpec, enqueue_many
from payouts.errors import PayoutError
from payouts.models import Payee, Payout, PayoutRun
from payouts.services import locks
from payouts.services.base import IN_FLIGHT, S
from payouts.services.requests import _paid_without_approval

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    run: PayoutRun | None
    dry_run: bool
    payouts: list[dict] = field(default_factory=list)  # payee, amount, currency, destination
    skipped: list[dict] = field(default_factory=list)  # payee, reason

    @property
    def total(self) -> Decimal:
        return sum((Decimal(p["amount"]) for p in self.payouts), Decimal("0"))


def payout_run(
    *,
    trigger: str = PayoutRun.Trigger.MANUAL,
    actor=None,
    payee_ids=None,
    run_key: str | None = None,
    dry_run: bool = False,
    reason: str = "",
) -> RunPlan:
    """Pay every selected active payee (all when ``payee_ids`` is None) whose available balance
    reaches its threshold: one payout each for the whole available balance. A payee with a
    payout still on its way is skipped. ``run_key`` makes a run happen once (the daily run uses
    its date); ``dry_run`` returns the same plan and writes nothing."""
    payees = Payee.objects.filter(active=True).order_by("pk")
    if payee_ids is not None:
        payee_ids = list(payee_ids)
        unknown = set(map(str, payee_ids)) - set(map(str, Payee.objects.filter(pk__in=payee_ids).values_list("pk", flat=True)))
        if unknown:
            raise PayoutError("payees", f"no payee with id {', '.join(sorted(unknown))}")
        payees = payees.filter(pk__in=payee_ids)
    if dry_run:
        plan = RunPlan(None, True)
        busy = set(Payout.objects.filter(state__in=IN_FLIGHT, payee__in=payees).values_list("payee_id", flat=True))
        for payee in payees.select_related("user"):
            _plan_one(plan, payee, busy)
        return plan
    run_key = run_key or f"manual-{timezone.now():%Y%m%dT%H%M%S.%f}"
    try:
        with transaction.atomic():
            run = PayoutRun.objects.create(
                trigger=trigger, run_key=run_key, started_by=actor if getattr(actor, "is_authenticated", False) else None
            )
    except IntegrityError:
        existing = PayoutRun.objects.get(run_key=run_key)
        log.info("payout run %s already exists; not run again", run_key)
        return RunPlan(existing, False, skipped=[{"payee": None, "reason": f"run {run_key} already happened"}])
    plan = RunPlan(run, False)
    ids = list(payees.values_list("pk", flat=True))
    for start in range(0, len(ids), 500):  # one transaction per batch of payees, locked in id order
        _run_batch(plan, ids[start : start + 500], actor)
    PayoutRun.objects.filter(pk=run.pk).update(
        payees_considered=len(ids),
        payouts_created=len(plan.payouts),
        total=plan.total,
        status=PayoutRun.Status.CREATED,
    )
    run.refresh_from_db()
    audit(actor, "payout.run", "payout_run", run.pk, reason, run_key=run_key, payouts=len(plan.payouts), total=str(plan.total))
    return plan


def _plan_one(plan: RunPlan, payee: Payee, busy: set) -> Decimal | None:
    if payee.pk in busy:
        plan.skipped.append({"payee": payee.pk, "reason": "a payout is already on its way"})
        return None
    available = payee.available
    if available <= 0 or available < payee.threshold:
        plan.skipped.append({"payee": payee.pk, "reason": f"available {available} is below the threshold {payee.threshold}"})
        return None
    plan.payouts.append(
        {
            "payee": payee.pk,
            "user": payee.user.get_username(),
            "amount": str(available),
            "currency": payee.currency,
            "destination": payee.destination,
        }
    )
    return available


def _run_batch(plan: RunPlan, ids: list, actor) -> None:
    now = timezone.now()
    with transaction.atomic():
        payees = locks.payees(ids)
        busy = set(Payout.objects.filter(state__in=IN_FLIGHT, payee_id__in=ids).values_list("payee_id", flat=True))
        recent = _paid_without_approval(ids, now)
        new = []
        for payee in payees:
            if not payee.active:
                continue
            amount = _plan_one(plan, payee, busy)
            if amount is None:
                continue
            needs_approval = amount + recent.get(payee.pk, 0) > settings.PAYOUT_APPROVAL_THRESHOLD
            new.append(
                Payout(
                    payee=payee,
                    amount=amount,
                    currency=payee.currency,
                    run=plan.run,
                    state=S.REQUESTED if needs_approval else S.APPROVED,
                    requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                    expires_at=now + timedelta(seconds=settings.PAYOUT_APPROVAL_TTL) if needs_approval else None,
                )
            )
        Payout.objects.bulk_create(new, batch_size=500)  # unique (run, payee): a payee is paid once per run
        # Each payout is the payee's whole available balance, so its hold makes held = balance:
        # one UPDATE for the batch (the rows are locked above, so balance cannot have moved).
        Payee.objects.filter(pk__in=[p.payee_id for p in new]).update(held=F("balance"))
        enqueue_many(
            [JobSpec("payouts.expire", [p.pk], run_at=p.expires_at, subject=("payout", p.pk)) for p in new if p.state == S.REQUESTED]
            + [JobSpec("payouts.process", [p.pk], subject=("payout", p.pk)) for p in new if p.state == S.APPROVED]
        )
