"""Processing a payout with its provider: the call outside any transaction, the outcome under the payout's lock, fallback and settling."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit
from notifications.services import NotificationError, notify
from payouts.models import LedgerEntry, Payee, Payout
from payouts.providers import ProviderDeclined, ProviderError, get_provider
from payouts.services import locks
from payouts.services.base import S, _adjust, _move, _release
from payouts.services.requests import _enqueue_processing

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
        transfer = provider.transfer(str(payout.idempotency_key), payout.amount, payout.currency, payee.account(), payee.destination)
    except ProviderDeclined as exc:
        # An earlier attempt may have moved the money and timed out: only a provider that confirms
        # it holds nothing under the key lets the payout fail (a lookup error is retried).
        existing = provider.lookup(str(payout.idempotency_key))
        if existing is not None:
            return _mark_paid(payout.pk, existing)
        return _fail(payout.pk, str(exc))
    except ProviderError as exc:
        return _provider_failed(payout.pk, provider.name, exc, last_attempt)
    return _mark_paid(payout.pk, transfer)


def _mark_paid(payout_id, transfer) -> str:
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state == S.PAID:
            return S.PAID
        if payout.state != S.PROCESSING:
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


def _fail(payout_id, reason: str) -> str:
    with transaction.atomic():
        payout = locks.payout(payout_id)
        if payout.state != S.PROCESSING:
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
    existing = get_provider(payout.provider).lookup(str(payout.idempotency_key))
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
    """Decide a ``processing`` payout whose job has run out of attempts: paid if a provider
    holds its transfer, failed (hold released) if none does. A provider that cannot answer
    leaves it processing, for the next settle (reconciliation runs one for every stuck payout)."""
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is None or payout.state != S.PROCESSING:
        return payout.state if payout else "missing"
    key = str(payout.idempotency_key)
    for provider in dict.fromkeys(name for name in (payout.provider, settings.PAYOUT_PRIMARY_PROVIDER) if name):
        try:
            existing = get_provider(provider).lookup(key)
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
