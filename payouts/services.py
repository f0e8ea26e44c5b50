"""Every write to payees, the ledger and payouts. Admin actions, the API, commands and
tasks call these; each staff action leaves an audit entry.

The promise: no payee is paid twice, and no owed payout is lost.

* The provider sees the payout's idempotency key, so any repeat of the call (a retry,
  a duplicate delivery, a worker killed between the call and our commit) finds the
  first transfer instead of making a second.
* The provider is called outside any transaction; its outcome is recorded after,
  under the payout's row lock, only if the payout is still ``processing``.
* Before a payout leaves a provider (fallback) or is declared failed after errors,
  the provider is asked whether the transfer happened; if it did, the payout is paid.
* Holds: a payout reserves its amount (``held``) from request until it is paid (then
  debited), failed, cancelled or expired (then released), under the payee's row lock.

Lock order, everywhere: payout row, then payee row. New payouts lock only the payee.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from jobs.core import inputs
from jobs.core.errors import FieldError
from jobs.core.timing import next_fire_after, timing_errors
from jobs.notifications import NotificationError, notify
from jobs.ops.audit import audit
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many
from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, RecurringPayout
from payouts.providers import ProviderDeclined, ProviderError, get_provider

log = logging.getLogger(__name__)

S = Payout.State
IN_FLIGHT = (S.REQUESTED, S.APPROVED, S.PROCESSING)
CENT = Decimal("0.01")

TRANSITIONS = Payout.STATES.table  # the payout state machine (payouts.models.Payout.STATES)


class PayoutError(FieldError):
    """Bad input or a refused action; ``field`` names what is wrong (the API returns it as a 400)."""


def _move(payout: Payout, target: str, **fields) -> None:
    """Move a (locked) payout through the state machine, compare-and-set on its current state."""
    if target not in TRANSITIONS[payout.state]:
        raise PayoutError("state", f"a {payout.state} payout cannot become {target}")
    fields["updated_at"] = timezone.now()
    if not Payout.STATES.move(Payout.objects.filter(pk=payout.pk), {payout.state}, target, **fields):
        raise PayoutError("state", f"payout {payout.pk} changed meanwhile; reload it and try again")
    payout.state = target
    for name, value in fields.items():
        setattr(payout, name, value)


def _amount(value, name: str = "amount") -> Decimal:
    """A positive amount with at most two decimals and 16 digits before the point, from a
    Decimal, an int or a string of ASCII digits (jobs.core.inputs.parse_decimal)."""
    try:
        amount = inputs.parse_decimal(value, name, integer_digits=16, places=2)
    except FieldError as exc:
        raise PayoutError(exc.field, exc.message) from None
    if amount <= 0:
        raise PayoutError(name, "must be greater than zero")
    return amount


def _currency(payee: Payee, currency) -> str:
    if currency in (None, ""):
        return payee.currency
    if not isinstance(currency, str) or currency.upper() != payee.currency:
        raise PayoutError("currency", f"this payee's account is in {payee.currency}, not {currency}")
    return payee.currency


def _payee(payee_id, *, lock: bool = False) -> Payee:
    query = Payee.objects.select_for_update() if lock else Payee.objects
    try:
        return query.get(pk=inputs.parse_id(payee_id, "payee"))
    except (Payee.DoesNotExist, FieldError):
        raise PayoutError("payee", f"no payee with id {payee_id!r}") from None


def _locked_payout(payout_id) -> Payout:
    try:
        return Payout.objects.select_for_update().get(pk=inputs.parse_id(payout_id, "payout"))
    except (Payout.DoesNotExist, FieldError):
        raise PayoutError("payout", f"no payout with id {payout_id!r}") from None


def _adjust(payee_id, *, balance: Decimal = Decimal("0"), held: Decimal = Decimal("0")) -> None:
    """Change a payee's balance and hold by these amounts, under its row lock. The sums are done
    here in Decimal, not in SQL: SQLite computes NUMERIC columns in floating point, where
    0.03 - 0.02 - 0.01 is below zero. The database's CHECK constraints still guard the result."""
    payee = Payee.objects.select_for_update().only("balance", "held").get(pk=payee_id)
    Payee.objects.filter(pk=payee_id).update(balance=payee.balance + balance, held=payee.held + held)


def _release(payout: Payout) -> None:
    _adjust(payout.payee_id, held=-payout.amount)


# --- Payees and the ledger ---------------------------------------------------------


def payee_create(
    user, *, currency: str, account: str, method: str = Payee.Method.BANK, threshold=Decimal("10.00"), actor=None, reason: str = ""
) -> Payee:
    if not isinstance(currency, str) or len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise PayoutError("currency", "must be a three-letter ISO 4217 code such as EUR")
    if not isinstance(account, str) or not 4 <= len(account.strip()) <= 64:
        raise PayoutError("account", "must be 4 to 64 characters")
    if method not in Payee.Method.values:
        raise PayoutError("method", f"must be one of {', '.join(Payee.Method.values)}")
    threshold = _amount(threshold, "threshold")
    if Payee.objects.filter(user=user).exists():
        raise PayoutError("user", f"{user.get_username()} already has a payee account")
    payee = Payee(user=user, currency=currency.upper(), method=method, threshold=threshold)
    payee.set_account(account.strip())
    payee.save()
    audit(actor, "payee.create", "payee", payee.pk, reason, currency=payee.currency, destination=payee.destination)
    return payee


def payee_update(payee_id, *, actor, reason: str = "", **changes) -> Payee:
    """Change a payee's currency (only while its ledger is empty), method, threshold or active
    flag; audited with what changed. The account number has its own service (payee_set_account)."""
    unknown = set(changes) - {"currency", "method", "threshold", "active"}
    if unknown:
        raise PayoutError(sorted(unknown)[0], "cannot be changed here")
    with transaction.atomic():
        payee = _payee(payee_id, lock=True)
        if "currency" in changes:
            currency = changes["currency"]
            if not isinstance(currency, str) or len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
                raise PayoutError("currency", "must be a three-letter ISO 4217 code such as EUR")
            changes["currency"] = currency.upper()
            if changes["currency"] != payee.currency and payee.ledger.exists():
                raise PayoutError("currency", "cannot change once the ledger has entries")
        if "method" in changes and changes["method"] not in Payee.Method.values:
            raise PayoutError("method", f"must be one of {', '.join(Payee.Method.values)}")
        if "threshold" in changes:
            changes["threshold"] = _amount(changes["threshold"], "threshold")
        if "active" in changes and not isinstance(changes["active"], bool):
            raise PayoutError("active", "must be true or false")
        changed = {name: value for name, value in changes.items() if getattr(payee, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(payee, name, value)
            payee.save(update_fields=list(changed))
            audit(actor, "payee.update", "payee", payee.pk, reason, **{name: str(value) for name, value in changed.items()})
    return payee


def payee_set_account(payee_id, account: str, *, actor, reason: str = "") -> Payee:
    if not isinstance(account, str) or not 4 <= len(account.strip()) <= 64:
        raise PayoutError("account", "must be 4 to 64 characters")
    with transaction.atomic():
        payee = _payee(payee_id, lock=True)
        payee.set_account(account.strip())
        payee.save(update_fields=["method_secret", "method_last4"])
        audit(actor, "payee.set_account", "payee", payee.pk, reason, destination=payee.destination)
    return payee


def ledger_credit(payee_id, amount, *, currency=None, memo: str = "", reference: str = "", actor=None, reason: str = "") -> LedgerEntry:
    """Add money to a payee's balance. A repeated ``reference`` for the same payee is refused,
    so a credit posted twice by an importer or a retried request counts once."""
    amount = _amount(amount)
    reference = (reference or "").strip()[:100]
    with transaction.atomic():
        payee = _payee(payee_id, lock=True)
        currency = _currency(payee, currency)
        if reference and LedgerEntry.objects.filter(payee=payee, reference=reference).exists():
            raise PayoutError("reference", f"a credit with reference {reference!r} was already posted for this payee")
        entry = LedgerEntry.objects.create(
            payee=payee,
            kind=LedgerEntry.Kind.CREDIT,
            amount=amount,
            currency=currency,
            memo=memo[:255],
            reference=reference,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _adjust(payee.pk, balance=amount)
        audit(actor, "ledger.credit", "payee", payee.pk, reason or memo, amount=str(amount), currency=currency, reference=reference)
    return entry


# --- Requesting, approving, cancelling --------------------------------------------


def payout_request(payee_id, amount, *, currency=None, actor=None, reason: str = "") -> Payout:
    """Reserve ``amount`` of the payee's available balance and start paying it: at once while
    it and the payee's unapproved payouts of the last PAYOUT_APPROVAL_WINDOW stay within
    PAYOUT_APPROVAL_THRESHOLD, after staff approval above it (expiring after PAYOUT_APPROVAL_TTL)."""
    amount = _amount(amount)
    with transaction.atomic():
        payee = _payee(payee_id, lock=True)
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
            payee_id__in=payee_ids, created_at__gte=since, approved_by__isnull=True, state__in=(S.APPROVED, S.PROCESSING, S.PAID)
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
        payout = _locked_payout(payout_id)
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
        payout = _locked_payout(payout_id)
        if payout.state == S.PROCESSING:
            raise PayoutError("state", "the payout is already with the provider; it can no longer be cancelled")
        _move(payout, S.CANCELLED)
        _release(payout)
        audit(actor, "payout.cancel", "payout", payout.pk, reason, amount=str(payout.amount))
    return payout


def payout_expire(payout_id) -> str:
    """The delayed job of an approval request: expire it if nobody approved it in time."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
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
        payout = _locked_payout(payout_id)
        if payout.state != S.FAILED:
            raise PayoutError("state", f"only failed payouts can be retried; this one is {payout.state}")
        payee = _payee(payout.payee_id, lock=True)
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
        payout = _locked_payout(payout_id)
        if payout.state not in (S.APPROVED, S.PROCESSING):
            raise PayoutError("state", f"only approved or processing payouts can be run; this one is {payout.state}")
        _enqueue_processing(payout, fallback_job=payout.provider == settings.PAYOUT_FALLBACK_PROVIDER)
        audit(actor, "payout.run_now", "payout", payout.pk, reason)
    return payout


# --- Processing ----------------------------------------------------------------


def process_payout(payout_id, *, last_attempt: bool = False) -> str:
    """One attempt at paying a payout. Safe to run any number of times, concurrently too:
    only one transfer can exist per idempotency key, and only a ``processing`` payout is
    recorded. Raises ProviderError for the job to retry."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
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
        payout = _locked_payout(payout_id)
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
        payout = _locked_payout(payout_id)
        if payout.state != S.PROCESSING:
            return payout.state
        _move(payout, S.FAILED, failure_reason=reason[:2000])
        _release(payout)
        _notify(payout)
    log.warning("payout %s failed: %s", payout.pk, reason)
    return S.FAILED


def _provider_failed(payout_id, provider_name: str, error: ProviderError, last_attempt: bool) -> str:
    with transaction.atomic():
        payout = _locked_payout(payout_id)
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
        locked = _locked_payout(payout.pk)
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


# --- Runs --------------------------------------------------------------------------


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
        payees = list(Payee.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk").select_related("user"))
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


# --- Recurring payouts -----------------------------------------------------------


def recurring_due(now: datetime | None = None, limit: int = 500) -> dict:
    """Create the payouts of every standing instruction whose time has come: exactly one per
    instruction and fire time (unique in the database), however many schedulers call this."""
    now = now or timezone.now()
    counts = {"created": 0, "refused": 0}
    for instruction_id in RecurringPayout.objects.filter(enabled=True, next_run_at__lte=now).values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            instruction = (
                RecurringPayout.objects.select_for_update(skip_locked=True)
                .filter(pk=instruction_id, enabled=True, next_run_at__lte=now)
                .first()
            )
            if instruction is None:
                continue  # another scheduler has it
            fire_at = instruction.next_run_at
            instruction.next_run_at = next_fire_after(instruction, max(now, fire_at))
            instruction.save(update_fields=["next_run_at"])
            payee = _payee(instruction.payee_id, lock=True)
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
