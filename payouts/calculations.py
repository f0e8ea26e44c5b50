"""Periodic calculations on the ledger: monthly interest, posted exactly once per payee and month.

The ledger's unique (payee, reference) makes "once" a database fact: the credit's reference is
``interest YYYY-MM``, so a re-run, a retry or a second scheduler finds it and posts nothing.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Sum

from payouts.models import LedgerEntry, Payee
from payouts.services import CENT, PayoutError, ledger_credit

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def previous_period(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def period_end(period: str) -> datetime:
    match = PERIOD.match(period or "")
    if not match:
        raise PayoutError("period", "must be a month, YYYY-MM")
    year, month = int(match[1]), int(match[2])
    last = date(year, month, calendar.monthrange(year, month)[1])
    return datetime.combine(last + timedelta(days=1), time.min, UTC)


def balance_at(payee_id: int, moment: datetime) -> Decimal:
    entries = LedgerEntry.objects.filter(payee_id=payee_id, created_at__lt=moment)
    credits = entries.filter(kind="credit").aggregate(s=Sum("amount"))["s"] or 0
    debits = entries.filter(kind="debit").aggregate(s=Sum("amount"))["s"] or 0
    return (Decimal(str(credits)) - Decimal(str(debits))).quantize(CENT)


def post_interest(period: str, *, rate: Decimal | None = None, progress=lambda percent, message="": None) -> dict:
    """Credit each active payee ``balance at the month's end x rate / 12``, once per month."""
    end = period_end(period)
    rate = settings.PAYEE_INTEREST_RATE if rate is None else Decimal(rate)
    counts = {"period": period, "posted": 0, "already_posted": 0, "nothing_due": 0, "total": "0.00"}
    if rate <= 0:
        return {**counts, "skipped": "PAYEE_INTEREST_RATE is 0"}
    total = Decimal("0")
    ids = list(Payee.objects.filter(active=True, created_at__lt=end).order_by("pk").values_list("pk", flat=True))
    reference = f"interest {period}"
    for n, payee_id in enumerate(ids, 1):
        amount = (balance_at(payee_id, end) * rate / 12).quantize(CENT, rounding=ROUND_HALF_EVEN)
        if amount < CENT:
            counts["nothing_due"] += 1
        elif LedgerEntry.objects.filter(payee_id=payee_id, reference=reference).exists():
            counts["already_posted"] += 1
        else:
            try:
                ledger_credit(
                    payee_id, amount, memo=f"interest for {period} at {rate:%} a year", reference=reference, actor="system:calculations"
                )
                counts["posted"] += 1
                total += amount
            except (IntegrityError, PayoutError):  # posted concurrently by another run
                counts["already_posted"] += 1
        if n % 500 == 0:
            progress(int(100 * n / len(ids)), f"{n} of {len(ids)} payees")
    counts["total"] = str(total)
    return counts
