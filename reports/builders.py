"""The report kinds: each validates its parameters and yields (headers, rows) in steps, so the
generator can report progress at real milestones (parameters checked, data gathered, file
written, file stored)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from jobs.core import inputs
from jobs.core.errors import FieldError
from jobs.models import JobRecord
from payouts.models import LedgerEntry, Payee, Payout
from reports.exports import ReportError

CENT = Decimal("0.01")


def _money(value) -> Decimal:
    """Sums come back from SQLite as floats in disguise: round them to cents."""
    return Decimal(str(value or 0)).quantize(CENT)


def _date(parameters: dict, name: str) -> date:
    value = parameters.get(name)
    if not isinstance(value, str):  # a date object is not JSON: parameters arrive as strings
        raise ReportError(name, "must be a date, YYYY-MM-DD")
    try:
        return inputs.parse_day(value, name)
    except FieldError as exc:
        raise ReportError(exc.field, exc.message) from None


def _period(parameters: dict) -> tuple[date, date]:
    start, end = _date(parameters, "period_start"), _date(parameters, "period_end")
    if end < start:
        raise ReportError("period_end", "must not be before period_start")
    if (end - start).days > 366:
        raise ReportError("period_end", "a period is at most 366 days")
    return start, end


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants from the start of ``start`` to the end of ``end``."""
    return datetime.combine(start, time.min, UTC), datetime.combine(end + timedelta(days=1), time.min, UTC)


def validate(kind: str, parameters: dict) -> dict:
    if kind == "payout_summary":
        start, end = _period(parameters)
        return {"period_start": start.isoformat(), "period_end": end.isoformat()}
    if kind == "daily_operations":
        return {"date": _date(parameters, "date").isoformat()}
    if kind == "payee_statement":
        start, end = _period(parameters)
        payee = parameters.get("payee")
        try:
            payee_id = inputs.parse_id(payee, "payee")
        except FieldError:
            payee_id = None
        if payee_id is None or not Payee.objects.filter(pk=payee_id).exists():
            raise ReportError("payee", f"no payee with id {payee!r}")
        return {"payee": payee_id, "period_start": start.isoformat(), "period_end": end.isoformat()}
    raise ReportError("kind", f"unknown report kind {kind!r}")


def payout_summary(parameters: dict):
    """Payouts created in the period, by currency and state: count and total."""
    since, until = _bounds(*_period(parameters))
    yield "gathering"
    rows = [
        (currency, state, n, _money(total))
        for currency, state, n, total in Payout.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("currency", "state")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("currency", "state")
        .values_list("currency", "state", "n", "total")
    ]
    yield ["currency", "state", "payouts", "total"], rows


def daily_operations(parameters: dict):
    """One day: jobs per queue by outcome, the dead jobs' errors, payouts by state."""
    day = _date(parameters, "date")
    since, until = _bounds(day, day)
    yield "gathering"
    rows = []
    jobs = JobRecord.objects.filter(created_at__gte=since, created_at__lt=until)
    for queue, *counts in (
        jobs.values("queue")
        .annotate(
            total=Count("id"),
            succeeded=Count("id", filter=Q(state="succeeded")),
            dead=Count("id", filter=Q(state="dead")),
            retrying=Count("id", filter=Q(state="retrying")),
            waiting=Count("id", filter=Q(state__in=("pending", "queued", "scheduled"))),
        )
        .order_by("queue")
        .values_list("queue", "total", "succeeded", "dead", "retrying", "waiting")
    ):
        for name, value in zip(("jobs", "succeeded", "dead", "retrying", "waiting"), counts):
            rows.append(("jobs", queue, name, value))
    for task_name, error, n in (
        jobs.filter(state="dead")
        .values("task_name", "last_error")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("task_name", "last_error", "n")[:20]
    ):
        rows.append(("failures", task_name, (error or "")[:200], n))
    for currency, state, n, total in (
        Payout.objects.filter(created_at__gte=since, created_at__lt=until)
        .values("currency", "state")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by("currency", "state")
        .values_list("currency", "state", "n", "total")
    ):
        rows.append(("payouts", f"{currency} {state}", "count", n))
        rows.append(("payouts", f"{currency} {state}", "total", _money(total)))
    yield ["section", "subject", "metric", "value"], rows


def payee_statement(parameters: dict):
    """Opening balance, every ledger entry of the period with the running balance, closing balance."""
    since, until = _bounds(*_period(parameters))
    entries = LedgerEntry.objects.filter(payee_id=parameters["payee"])
    yield "gathering"
    signed = lambda q: (
        _money(q.filter(kind="credit").aggregate(s=Sum("amount"))["s"])
        - _money(  # noqa: E731
            q.filter(kind="debit").aggregate(s=Sum("amount"))["s"]
        )
    )
    balance = signed(entries.filter(created_at__lt=since))
    rows = [(since.date().isoformat(), "opening balance", "", "", balance)]
    for created_at, kind, amount, currency, memo in (
        entries.filter(created_at__gte=since, created_at__lt=until)
        .order_by("created_at", "pk")
        .values_list("created_at", "kind", "amount", "currency", "memo")
    ):
        balance += amount if kind == "credit" else -amount
        rows.append((created_at.isoformat(), kind, f"{amount} {currency}", memo, balance))
    rows.append(((until - timedelta(days=1)).date().isoformat(), "closing balance", "", "", balance))
    yield ["date", "entry", "amount", "memo", "balance"], rows


BUILDERS = {"payout_summary": payout_summary, "daily_operations": daily_operations, "payee_statement": payee_statement}
