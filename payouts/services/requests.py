"""Requesting, approving, cancelling, expiring and retrying payouts (each holds or releases the amount)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import audit
from jobs.ops.enqueue import enqueue
from payouts.errors import PayoutError
from payouts.models import Payee, Payout
from payouts.services import locks
from payouts.services.base import CENT, S, _adjust, _amount, _currency, _move, _release


def payout_request(payee_id, amount, *, currency=None, actor=None, reason: str = "") -> Payout:
    """Reserve ``amount`` of the payee's available balance and start paying it: at once while
    it and the payee's unapproved payouts of the last PAYOUT_APPROVAL_WINDOW stay within
    PAYOUT_APPROVAL_THRESHOLD, after staff approval above it (expiring after PAYOUT_APPROVAL_TTL)."""
    amount = _amount(amount)
    with transaction.atomic():
        payee = locks.payee(payee_id)
        payout = _create(payee, amount, _currency(payee, currency), actor=actor)
        audit(actor, "payout.request", "payout", payout.pk, reason, amount=str(amount), currency=payout.currency, state=payout.state)
    return payout


def _create(payee: Payee, amount: Decimal, currency: str, *, actor=None, **extra) -> Payout:
    """Under the payee's row lock: check, hold, insert, and schedule what comes next."""
    if not payee.active:
        raise PayoutError("payee", f"payee {payee.pk} is inactive")
    if amount > payee.available:
        raise PayoutError("amount", f"{amount} {currency} exceeds the available balance of {payee.available} {currency}")
    now = timezone.now()
    needs_approval = amount + _paid_without_approval([payee.pk], now).get(payee.pk, 0) > settings.PAYOUT_APPROVAL_THRESHOLD
    payout = Payout.objects.create(
        payee=payee,
        amount=amount,
        currency=currency,
        state=S.REQUESTED if needs_approval else S.APPROVED,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        expires_at=now + timedelta(seconds=settings.PAYOUT_APPROVAL_TTL) if needs_approval else None,
        **extra,
    )
    _adjust(payee.pk, held=amount)
    payee.held += amount
    if needs_approval:
        enqueue("payouts.expire", [payout.pk], run_at=payout.expires_at, subject=payout)
    else:
        _enqueue_processing(payout)
    return payout


def _paid_without_approval(payee_ids, now: datetime) -> dict:
    """Per payee, the payouts of the last PAYOUT_APPROVAL_WINDOW seconds that no person approved
    and that are paid or on their way. PAYOUT_APPROVAL_THRESHOLD applies to this total plus a
    new payout, so splitting a large amount into small ones does not skip the approval."""
    since = now - timedelta(seconds=settings.PAYOUT_APPROVAL_WINDOW)
    rows = (
        Payout.objects.filter(
            payee_id__in=payee_ids, created_at__gte=since, approved_by__isnull=True, state__in=(S.APPROVED, S.PROCESSING, S.SENT, S.PAID)
        )
        .values("payee_id")
        .annotate(total=Sum("amount"))
        .values_list("payee_id", "total")
    )
    return {payee_id: Decimal(str(total)).quantize(CENT) for payee_id, total in rows}  # SQLite sums through a float


def _enqueue_processing(payout: Payout, *, fallback_job: bool = False) -> None:
    enqueue("payouts.fallback" if fallback_job else "payouts.process", [payout.pk], subject=payout)


def payout_approve(payout_id, *, actor, reason: str = "") -> Payout:
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state == S.REQUESTED and payout.expires_at and payout.expires_at <= timezone.now():
            raise PayoutError("state", "the request expired; create a new payout")
        _move(
            payout,
            S.APPROVED,
            approved_by=actor if getattr(actor, "is_authenticated", False) else None,
            approved_at=timezone.now(),
            expires_at=None,
        )
        _enqueue_processing(payout)
        audit(actor, "payout.approve", "payout", payout.pk, reason, amount=str(payout.amount))
    return payout


def payout_cancel(payout_id, *, actor, reason: str = "") -> Payout:
    """Cancel a payout that has not reached the provider; its hold is released."""
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state in (S.PROCESSING, S.SENT):
            raise PayoutError("state", "the payout is already with the provider; it can no longer be cancelled")
        _move(payout, S.CANCELLED)
        _release(payout)
        audit(actor, "payout.cancel", "payout", payout.pk, reason, amount=str(payout.amount))
    return payout


def payout_expire(payout_id) -> str:
    """The delayed job of an approval request: expire it if nobody approved it in time."""
    with transaction.atomic():
        payout = locks.payout_or_none(payout_id)
        if payout is None or payout.state != S.REQUESTED:
            return payout.state if payout else "missing"
        if payout.expires_at and payout.expires_at > timezone.now():
            return "not yet due"  # the TTL was extended; a later job expires it
        _move(payout, S.EXPIRED)
        _release(payout)
        audit("system:payouts", "payout.expire", "payout", payout.pk, "not approved in time", amount=str(payout.amount))
    return S.EXPIRED


def payout_retry(payout_id, *, actor, reason: str = "") -> Payout:
    """Send a failed payout again, with the same idempotency key (the failure was confirmed
    with the provider, so no transfer exists under it). The amount is held again."""
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state != S.FAILED:
            raise PayoutError("state", f"only failed payouts can be retried; this one is {payout.state}")
        payee = locks.payee(payout.payee_id)
        if payout.amount > payee.available:
            raise PayoutError("amount", f"{payout.amount} exceeds the available balance of {payee.available} {payee.currency}")
        _move(payout, S.APPROVED, provider="", provider_failures=0, failure_reason="")
        _adjust(payee.pk, held=payout.amount)
        _enqueue_processing(payout)
        audit(actor, "payout.retry", "payout", payout.pk, reason, amount=str(payout.amount))
    return payout


def payout_process_now(payout_id, *, actor, reason: str = "") -> Payout:
    """Make sure an approved or processing payout has a job on its way (a no-op if it has)."""
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state not in (S.APPROVED, S.PROCESSING):
            raise PayoutError("state", f"only approved or processing payouts can be run; this one is {payout.state}")
        _enqueue_processing(payout, fallback_job=payout.provider == settings.PAYOUT_FALLBACK_PROVIDER)
        audit(actor, "payout.run_now", "payout", payout.pk, reason)
    return payout
