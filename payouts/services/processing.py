"""Processing a payout with its provider: the call outside any transaction, the outcome under
the payout's lock, fallback and settling.

A provider that settles later answers the transfer ``pending``: the payout is ``sent`` (the
hold stays, nothing is debited) until the provider says ``paid`` (debit, hold released) or
``failed`` (hold released). A ``failed`` after ``paid`` is the bank returning the money: the
payout is ``returned`` and the amount credited back. Webhooks and the settlement check both
go through ``apply_transfer``, and each of those moves happens once: the state machine allows
it from one state only, under the payout's row lock, and the ledger's constraints (one debit
per payout, one credit per reference) refuse a second entry.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit
from jobs.core.states import ACTIVE
from jobs.models import JobRecord
from notifications.services import NotificationError, notify
from payouts.errors import PayoutError
from payouts.models import LedgerEntry, Payee, Payout
from payouts.providers import FAILED, PENDING, ProviderDeclined, ProviderError, get_provider
from payouts.services import locks
from payouts.services.base import S, _adjust, _move, _release
from payouts.services.requests import _enqueue_processing

# The jobs that take a payout to a provider (payouts/tasks.py).
PROCESSING_TASKS = ("payouts.process", "payouts.fallback")

log = logging.getLogger(__name__)


def process_payout(payout_id, *, last_attempt: bool = False) -> str:
    """One attempt at paying a payout. Safe to run any number of times, concurrently too:
    only one transfer can exist per idempotency key, and only a ``processing`` payout is
    recorded. Raises ProviderError for the job to retry."""
    with transaction.atomic():
        payout = locks.payout_or_none(payout_id)
        if payout is None:
            return "missing"
        if payout.state not in (S.APPROVED, S.PROCESSING):
            return payout.state  # paid, failed, cancelled... or still awaiting approval
        if payout.state == S.APPROVED:
            _move(payout, S.PROCESSING, provider=payout.provider or settings.PAYOUT_PRIMARY_PROVIDER)
    payee = Payee.objects.get(pk=payout.payee_id)
    provider = get_provider(payout.provider)
    try:
        transfer = provider.transfer(
            str(payout.idempotency_key),
            payout.amount,
            payout.currency,
            payee.account(),
            payee.destination,
            payee=payee,
            memo=f"Payout {payout.pk}",
        )
    except ProviderDeclined as exc:
        # An earlier attempt may have moved the money and timed out: only a provider that confirms
        # it holds nothing under the key lets the payout fail (a lookup error is retried).
        existing = provider.lookup(str(payout.idempotency_key), since=payout.created_at)
        if existing is not None:
            return _mark_paid(payout.pk, existing)
        return _fail(payout.pk, str(exc))
    except ProviderError as exc:
        return _provider_failed(payout.pk, provider.name, exc, last_attempt)
    return _mark_paid(payout.pk, transfer)


def _mark_paid(payout_id, transfer) -> str:
    """Record what the provider holds for the payout: paid, still pending (sent), or failed."""
    if transfer.status == PENDING:
        return _mark_sent(payout_id, transfer)
    if transfer.status == FAILED:
        return apply_transfer(transfer)
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state in (S.PAID, S.RETURNED):
            return payout.state
        if payout.state not in (S.PROCESSING, S.SENT):
            # Only reachable if a payout was failed while its transfer was in flight somewhere:
            # reconciliation reports the transfer as unrecorded for staff.
            log.error("payout %s is %s but %s holds transfer %s for it", payout.pk, payout.state, transfer.provider, transfer.reference)
            return payout.state
        LedgerEntry.objects.create(
            payee_id=payout.payee_id,
            kind=LedgerEntry.Kind.DEBIT,
            amount=payout.amount,
            currency=payout.currency,
            payout=payout,
            memo=f"payout via {transfer.provider}",
        )
        _adjust(payout.payee_id, balance=-payout.amount, held=-payout.amount)
        _move(payout, S.PAID, provider=transfer.provider, provider_reference=transfer.reference, paid_at=timezone.now(), failure_reason="")
        _notify(payout)
    log.info("payout %s paid: %s %s via %s (%s)", payout.pk, payout.amount, payout.currency, transfer.provider, transfer.reference)
    return S.PAID


def _mark_sent(payout_id, transfer) -> str:
    """The provider took the transfer and settles later: the payout waits as sent, still held."""
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state != S.PROCESSING:
            return payout.state
        _move(payout, S.SENT, provider=transfer.provider, provider_reference=transfer.reference, sent_at=timezone.now(), failure_reason="")
    log.info(
        "payout %s sent: %s %s via %s (%s), awaiting settlement",
        payout.pk,
        payout.amount,
        payout.currency,
        transfer.provider,
        transfer.reference,
    )
    return S.SENT


def apply_transfer(transfer) -> str:
    """Bring the payout a provider's transfer belongs to (by its idempotency key) up to the
    transfer's status: the one way webhooks and the settlement check change payouts. Safe to
    call any number of times, in any order: a move happens once, and only forward."""
    payout = Payout.objects.filter(idempotency_key=transfer.key).only("pk", "state", "provider").first()
    if payout is None:
        log.warning("%s transfer %s (key %s) matches no payout", transfer.provider, transfer.reference, transfer.key)
        return "unknown"
    if payout.provider and payout.provider != transfer.provider:
        log.error(
            "payout %s is with %s, not %s: transfer %s left to reconciliation",
            payout.pk,
            payout.provider,
            transfer.provider,
            transfer.reference,
        )
        return payout.state
    if transfer.status == PENDING:
        return _mark_sent(payout.pk, transfer) if payout.state == S.PROCESSING else payout.state
    if transfer.status != FAILED:
        return _mark_paid(payout.pk, transfer)
    if payout.state == S.PAID:
        return _returned(payout.pk, transfer)
    if payout.state in (S.PROCESSING, S.SENT):
        return _fail(payout.pk, f"{transfer.provider} reports the transfer failed: {transfer.detail or 'no reason given'}")
    return payout.state


def _returned(payout_id, transfer) -> str:
    """The bank sent a paid payout back: credited to the payee again, once (the credit's
    reference is unique per payee)."""
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state != S.PAID:
            return payout.state
        LedgerEntry.objects.create(
            payee_id=payout.payee_id,
            kind=LedgerEntry.Kind.CREDIT,
            amount=payout.amount,
            currency=payout.currency,
            memo=f"payout {payout.pk} returned by the bank via {transfer.provider}",
            reference=f"payout {payout.pk} returned",
        )
        _adjust(payout.payee_id, balance=payout.amount)
        _move(payout, S.RETURNED, returned_at=timezone.now(), failure_reason=(transfer.detail or "returned by the bank")[:2000])
        audit(
            "system:payouts",
            "payout.returned",
            "payout",
            payout.pk,
            transfer.detail,
            provider=transfer.provider,
            reference=transfer.reference,
        )
        _notify(payout)
    log.warning("payout %s returned by the bank (%s %s, %s): credited back", payout.pk, payout.amount, payout.currency, transfer.reference)
    return S.RETURNED


def check_sent(older_than_seconds: float = 60) -> dict:
    """The settlement check: ask the provider about every payout still sent (in case a webhook
    was lost or none is configured) and apply what it says."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    counts: dict[str, int] = {}
    sent = Payout.objects.filter(state=S.SENT, updated_at__lte=cutoff)
    for pk, provider, key, created, reference in sent.values_list("pk", "provider", "idempotency_key", "created_at", "provider_reference"):
        try:
            transfer = get_provider(provider).lookup(str(key), since=created, reference=reference)
        except (ProviderError, LookupError) as exc:
            log.warning("payout %s: settlement check could not ask %s (%s)", pk, provider, exc)
            counts["unanswered"] = counts.get("unanswered", 0) + 1
            continue
        state = apply_transfer(transfer) if transfer is not None else S.SENT
        counts[state] = counts.get(state, 0) + 1
    return counts


def payout_check_settlement(payout_id, *, actor, reason: str = "") -> Payout:
    """Staff: ask the provider about one sent payout now and apply its answer; audited."""
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is None:
        raise PayoutError("payout", f"no payout {payout_id}")
    if payout.state != S.SENT:
        raise PayoutError("state", f"only sent payouts wait for their provider; this one is {payout.state}")
    try:
        transfer = get_provider(payout.provider).lookup(
            str(payout.idempotency_key), since=payout.created_at, reference=payout.provider_reference
        )
    except (ProviderError, LookupError) as exc:
        raise PayoutError("provider", f"{payout.provider} did not answer: {exc}") from None
    state = apply_transfer(transfer) if transfer is not None else payout.state
    audit(actor, "payout.check_settlement", "payout", payout.pk, reason, state=state)
    payout.refresh_from_db()
    return payout


def _fail(payout_id, reason: str, from_states=(S.PROCESSING, S.SENT)) -> str:
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state not in from_states:
            return payout.state
        _move(payout, S.FAILED, failure_reason=reason[:2000])
        _release(payout)
        _notify(payout)
    log.warning("payout %s failed: %s", payout.pk, reason)
    return S.FAILED


def _provider_failed(payout_id, provider_name: str, error: ProviderError, last_attempt: bool) -> str:
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state != S.PROCESSING or payout.provider != provider_name:
            return payout.state
        payout.provider_failures += 1
        payout.failure_reason = str(error)[:2000]
        payout.save(update_fields=["provider_failures", "failure_reason", "updated_at"])
    if provider_name == settings.PAYOUT_PRIMARY_PROVIDER and payout.provider_failures >= settings.PAYOUT_FALLBACK_AFTER:
        return _switch_to_fallback(payout)
    if last_attempt:
        return settle(payout.pk)
    raise error


def _switch_to_fallback(payout: Payout) -> str:
    """Leave the primary only when it confirms it holds no transfer under this key; otherwise
    the payout stays where it is (a lookup error is retried like a transfer error)."""
    existing = get_provider(payout.provider).lookup(str(payout.idempotency_key), since=payout.created_at)
    if existing is not None:
        return _mark_paid(payout.pk, existing)
    with transaction.atomic():
        locked = locks.payout(payout.pk)
        if locked.state != S.PROCESSING or locked.provider != payout.provider:
            return locked.state
        previous = locked.provider
        locked.provider, locked.provider_failures = settings.PAYOUT_FALLBACK_PROVIDER, 0
        locked.save(update_fields=["provider", "provider_failures", "updated_at"])
        _enqueue_processing(locked, fallback_job=True)
        audit("system:payouts", "payout.fallback", "payout", locked.pk, locked.failure_reason, **{"from": previous, "to": locked.provider})
    log.warning("payout %s: %s failed %d times, moved to %s", payout.pk, previous, settings.PAYOUT_FALLBACK_AFTER, locked.provider)
    return "fallback"


def settle(payout_id) -> str:
    """Decide a payout whose job has run out of attempts. ``processing``: paid if a provider
    holds its transfer, failed (hold released) if none does; a provider that cannot answer
    leaves it processing, for the next settle (reconciliation runs one for every stuck payout).
    ``approved``: its job never took it (a job that kept losing its worker before its first
    step), so no provider was asked and none can hold a transfer: failed, hold released, for
    staff to retry, unless another processing job for it is active (re-sent meanwhile)."""
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is not None and payout.state == S.APPROVED:
        with transaction.atomic():  # under the payout's lock: a job sent meanwhile takes it first
            locks.payout(payout.pk)
            if JobRecord.objects.filter(
                subject_type="payout", subject_id=str(payout.pk), task_name__in=PROCESSING_TASKS, state__in=ACTIVE
            ).exists():
                return S.APPROVED
            return _fail(payout.pk, "its job ran out of attempts before the payout was sent; no money moved", from_states=(S.APPROVED,))
    if payout is None or payout.state != S.PROCESSING:
        return payout.state if payout else "missing"
    key = str(payout.idempotency_key)
    for provider in dict.fromkeys(name for name in (payout.provider, settings.PAYOUT_PRIMARY_PROVIDER) if name):
        try:
            existing = get_provider(provider).lookup(key, since=payout.created_at, reference=payout.provider_reference)
        except ProviderError as exc:
            log.warning("payout %s: cannot settle now, %s did not answer (%s)", payout.pk, provider, exc)
            return S.PROCESSING
        except LookupError as exc:  # a provider removed from PAYOUT_PROVIDERS: ask nobody, decide nothing
            log.error("payout %s: cannot settle, %s", payout.pk, exc)
            return S.PROCESSING
        if existing is not None:
            return _mark_paid(payout.pk, existing)
    return _fail(
        payout.pk, f"no provider holds a transfer after the last attempt: {payout.failure_reason or 'the job ran out of attempts'}"
    )


def _notify(payout: Payout) -> None:
    """Email the payee that the payout was paid or failed: once per payout and outcome."""
    payee = Payee.objects.select_related("user").get(pk=payout.payee_id)
    if not payee.user.email:
        return
    context = {
        "name": payee.user.get_full_name() or payee.user.get_username(),
        "amount": str(payout.amount),
        "currency": payout.currency,
        "destination": payee.destination,
        "reference": payout.provider_reference,
        "payout": payout.pk,
    }
    try:
        notify("email", payee.user.email, f"payout_{payout.state}", context, dedup_key=f"payout {payout.pk} {payout.state}")
    except NotificationError as exc:  # a bad address must not undo the payout's outcome
        log.warning("payout %s: no notice sent (%s)", payout.pk, exc)
