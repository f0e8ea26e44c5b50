"""Credit reconciliation: compare our books with the providers' and flag what differs.

Kinds of mismatch (each names the payout, payee, provider and amounts involved):

* ``missing_transfer``: a paid payout whose provider holds no transfer under its key;
* ``duplicated_transfer``: more than one provider holds a transfer under one key;
* ``wrong_amount``: the transfer's amount or currency is not the payout's;
* ``unrecorded_transfer``: a provider moved money for a payout we hold as failed,
  cancelled or expired;
* ``unknown_transfer``: a provider transfer whose key is no payout of ours;
* ``ledger_mismatch``: a payee's balance or hold differs from what its ledger and
  payouts add up to;
* ``provider_unavailable``: a provider could not list its transfers (retried next run).

It reads each provider's own list of the transfers made in the last
PAYOUT_RECONCILIATION_WINDOW (7 days by default), not every transfer ever, and compares the
payouts created in that window; a transfer whose payout is older is looked up by its key.
A payout that is ``sent`` or ``returned`` is expected to have its transfer.

Before comparing, payouts stuck without a job (approved or processing, no active job,
quiet for ``STUCK_AFTER``) are sent again or settled, so a crash never leaves one behind.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import CharField, Exists, OuterRef, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from audit.services import audit
from jobs.core.states import ACTIVE
from jobs.models import JobRecord
from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, ReconciliationReport
from payouts.providers import ProviderError, get_provider
from payouts.services import IN_FLIGHT, _enqueue_processing, payout_expire, settle

log = logging.getLogger(__name__)

S = Payout.State
STUCK_AFTER = timedelta(minutes=10)


def recover_stuck(older_than: timedelta = STUCK_AFTER) -> dict:
    """Approved payouts with no job get one; processing payouts with no job are settled;
    requested payouts past their deadline with no job (their expiry job died) are expired."""
    cutoff = timezone.now() - older_than
    # Per stuck candidate, one probe of the job_subject index (not every active payout job's id in Python).
    has_job = JobRecord.objects.filter(subject_type="payout", subject_id=Cast(OuterRef("pk"), CharField()), state__in=ACTIVE)
    stuck = Payout.objects.filter(state__in=(S.APPROVED, S.PROCESSING), updated_at__lte=cutoff).exclude(Exists(has_job))
    counts = {"resent": 0, "settled": 0, "expired": 0}
    for payout in stuck.iterator():
        if payout.state == S.APPROVED:
            _enqueue_processing(payout)
            counts["resent"] += 1
        else:
            settle(payout.pk)
            counts["settled"] += 1
    overdue = Payout.objects.filter(state=S.REQUESTED, expires_at__lte=cutoff).exclude(Exists(has_job))
    for payout_id in overdue.values_list("pk", flat=True).iterator():
        counts["expired"] += payout_expire(payout_id) == S.EXPIRED
    counts["runs_finished"] = finish_runs()
    return counts


def finish_runs() -> int:
    """Mark runs whose payouts have all ended (paid, failed, cancelled, expired) as finished."""
    open_runs = PayoutRun.objects.filter(status=PayoutRun.Status.CREATED).exclude(payouts__state__in=IN_FLIGHT)
    return PayoutRun.objects.filter(pk__in=list(open_runs.values_list("pk", flat=True))).update(
        status=PayoutRun.Status.FINISHED, finished_at=timezone.now()
    )


def reconcile(*, actor=None, window: timedelta | None = None) -> ReconciliationReport:
    recovered = recover_stuck()
    mismatches: list[dict] = []
    by_key: dict[str, list] = defaultdict(list)
    transfer_count = 0
    until = timezone.now()
    since = until - (window or timedelta(seconds=settings.PAYOUT_RECONCILIATION_WINDOW))
    for name in settings.PAYOUT_PROVIDERS:
        try:
            transfers = get_provider(name).transfers(since=since, until=until)
        except ProviderError as exc:
            mismatches.append({"kind": "provider_unavailable", "provider": name, "detail": str(exc)})
            continue
        transfer_count += len(transfers)
        for transfer in transfers:
            by_key[transfer.key].append(transfer)

    checked = 0
    fields = ("pk", "payee_id", "idempotency_key", "state", "amount", "currency", "provider")
    # The window's payouts, and older ones whose transfer the providers listed in it (a payout
    # created before the window began may have been sent inside it).
    keyed = [k for k in by_key if _is_uuid(k)]
    in_window = Payout.objects.filter(created_at__gte=since) | Payout.objects.filter(idempotency_key__in=keyed)
    for pk, payee_id, key, state, amount, currency, provider in in_window.values_list(*fields).iterator():
        checked += 1
        found = by_key.pop(str(key), [])
        base = {"payout": pk, "payee": payee_id, "amount": str(amount), "currency": currency}
        if len(found) > 1:
            mismatches.append(
                {
                    **base,
                    "kind": "duplicated_transfer",
                    "provider": ", ".join(t.provider for t in found),
                    "detail": f"{len(found)} transfers under one key: " + ", ".join(t.reference for t in found),
                }
            )
        if state in (S.PAID, S.SENT, S.RETURNED):
            if not found:
                mismatches.append(
                    {
                        **base,
                        "kind": "missing_transfer",
                        "provider": provider,
                        "detail": f"{state} in our books, no transfer at the provider",
                    }
                )
            for t in found:
                if t.amount != amount or t.currency != currency:
                    mismatches.append(
                        {
                            **base,
                            "kind": "wrong_amount",
                            "provider": t.provider,
                            "detail": f"the provider moved {t.amount} {t.currency} ({t.reference})",
                        }
                    )
        elif found and state not in IN_FLIGHT and state != S.RETURNED:
            mismatches.append(
                {
                    **base,
                    "kind": "unrecorded_transfer",
                    "provider": found[0].provider,
                    "detail": f"the payout is {state} but {found[0].reference} moved {found[0].amount} {found[0].currency}",
                }
            )
    for key, found in by_key.items():
        for t in found:
            mismatches.append(
                {
                    "kind": "unknown_transfer",
                    "provider": t.provider,
                    "amount": str(t.amount),
                    "currency": t.currency,
                    "detail": f"transfer {t.reference} under key {key} matches no payout",
                }
            )
    mismatches += ledger_mismatches()

    report = ReconciliationReport.objects.create(
        checked_payouts=checked,
        checked_transfers=transfer_count,
        mismatch_count=len(mismatches),
        mismatches=mismatches,
    )
    audit(actor or "system:reconciliation", "payout.reconcile", "reconciliation_report", report.pk, mismatches=len(mismatches), **recovered)
    if mismatches:
        log.error("reconciliation %s: %d mismatch(es); see the admin", report.pk, len(mismatches))
    return report


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def ledger_mismatches() -> list[dict]:
    """Payees whose kept balance or hold differs from their ledger and in-flight payouts."""
    credits = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CREDIT).values("payee").annotate(s=Sum("amount")).values_list("payee", "s")
    )
    debits = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DEBIT).values("payee").annotate(s=Sum("amount")).values_list("payee", "s")
    )
    held = dict(Payout.objects.filter(state__in=IN_FLIGHT).values("payee").annotate(s=Sum("amount")).values_list("payee", "s"))
    zero = Decimal("0")
    found = []
    for pk, balance, hold, currency in Payee.objects.values_list("pk", "balance", "held", "currency").iterator():
        expected_balance = credits.get(pk, zero) - debits.get(pk, zero)
        expected_held = held.get(pk, zero)
        if balance != expected_balance or hold != expected_held:
            found.append(
                {
                    "kind": "ledger_mismatch",
                    "payee": pk,
                    "currency": currency,
                    "detail": f"balance {balance} (ledger says {expected_balance}), held {hold} (payouts say {expected_held})",
                }
            )
    return found
