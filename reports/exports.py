"""Datasets that can be exported, their filters, and streaming writers (CSV, XLSX, JSON).

Rows come from ``queryset.values_list(...).iterator(chunk_size=...)`` and go straight to a
temporary file, so memory stays flat however many rows there are (bench/exports.py).

Spreadsheets run what looks like a formula. A text cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (a memo, a username, an error message: anything people
typed) is written with a leading apostrophe in CSV and XLSX, as OWASP advises for CSV
injection, and every text cell of an XLSX is stored as text, never as a formula. Numbers,
dates and JSON exports are written as they are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.apps import apps

from jobs.core import inputs
from jobs.core.errors import FieldError

CHUNK = 2000


class ReportError(FieldError):
    """Bad parameters; ``field`` names the one at fault (the API returns it as a 400)."""


@dataclass(frozen=True)
class Filter:
    lookup: str
    parse: Callable[[str, object], object]


@dataclass(frozen=True)
class Dataset:
    model_path: str
    columns: tuple[tuple[str, str], ...]  # (header, ORM path)
    filters: dict[str, Filter] = field(default_factory=dict)

    def queryset(self):
        return apps.get_model(self.model_path).objects.all()


def _choice(*allowed: str):
    def parse(name, value):
        if value not in allowed:
            raise ReportError(f"filters.{name}", f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _day(name, value):
    try:
        return inputs.parse_day(value, f"filters.{name}")
    except FieldError as exc:
        raise ReportError(exc.field, exc.message) from None


def _int(name, value):
    try:
        return inputs.parse_id(value, f"filters.{name}")
    except FieldError as exc:
        raise ReportError(exc.field, exc.message) from None


def _bool(name, value):
    if value in (True, "true", "1", 1):
        return True
    if value in (False, "false", "0", 0):
        return False
    raise ReportError(f"filters.{name}", "must be true or false")


def _text(name, value):
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ReportError(f"filters.{name}", "must be a non-empty string of at most 200 characters")
    if inputs.has_surrogate(value):
        raise ReportError(f"filters.{name}", inputs.SURROGATE_MESSAGE)
    return value


def _currency(name, value):
    if not isinstance(value, str) or len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise ReportError(f"filters.{name}", "must be a three-letter currency code")
    return value.upper()


_PERIOD = {"created_from": Filter("created_at__date__gte", _day), "created_to": Filter("created_at__date__lte", _day)}

DATASETS: dict[str, Dataset] = {
    "payees": Dataset(
        "payouts.Payee",
        (
            ("id", "id"),
            ("username", "user__username"),
            ("email", "user__email"),
            ("currency", "currency"),
            ("method", "method"),
            ("account_last4", "method_last4"),
            ("balance", "balance"),
            ("held", "held"),
            ("threshold", "threshold"),
            ("active", "active"),
            ("created_at", "created_at"),
        ),
        {"active": Filter("active", _bool), "currency": Filter("currency", _currency), **_PERIOD},
    ),
    "ledger": Dataset(
        "payouts.LedgerEntry",
        (
            ("id", "id"),
            ("payee_id", "payee_id"),
            ("username", "payee__user__username"),
            ("kind", "kind"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("payout_id", "payout_id"),
            ("memo", "memo"),
            ("reference", "reference"),
            ("created_at", "created_at"),
        ),
        {
            "kind": Filter("kind", _choice("credit", "debit")),
            "payee": Filter("payee_id", _int),
            "currency": Filter("currency", _currency),
            **_PERIOD,
        },
    ),
    "payouts": Dataset(
        "payouts.Payout",
        (
            ("id", "id"),
            ("payee_id", "payee_id"),
            ("username", "payee__user__username"),
            ("amount", "amount"),
            ("currency", "currency"),
            ("state", "state"),
            ("provider", "provider"),
            ("provider_reference", "provider_reference"),
            ("run_id", "run_id"),
            ("created_at", "created_at"),
            ("paid_at", "paid_at"),
            ("failure_reason", "failure_reason"),
        ),
        {
            "state": Filter(
                "state", _choice("requested", "approved", "processing", "sent", "paid", "failed", "returned", "cancelled", "expired")
            ),
            "payee": Filter("payee_id", _int),
            "currency": Filter("currency", _currency),
            "provider": Filter("provider", _text),
            **_PERIOD,
        },
    ),
    "jobs": Dataset(
        "jobs.JobRecord",
        (
            ("id", "id"),
            ("task_name", "task_name"),
            ("queue", "queue"),
            ("state", "state"),
            ("priority", "priority"),
            ("attempts", "attempts"),
            ("max_attempts", "max_attempts"),
            ("created_at", "created_at"),
            ("started_at", "started_at"),
            ("finished_at", "finished_at"),
            ("last_error", "last_error"),
            ("correlation_id", "correlation_id"),
        ),
        {
            "state": Filter("state", _choice("pending", "scheduled", "queued", "running", "retrying", "succeeded", "dead", "cancelled")),
            "queue": Filter("queue", _text),
            "task_name": Filter("task_name", _text),
            **_PERIOD,
        },
    ),
}

FORMATS = {
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": ("application/json", "json"),
}


def validate_export(parameters: dict) -> dict:
    """Check an export's parameters; return them normalised. Raises ReportError naming the field."""
    dataset = parameters.get("dataset")
    if dataset not in DATASETS:
        raise ReportError("dataset", f"must be one of {', '.join(DATASETS)}")
    fmt = parameters.get("format", "csv")
    if fmt not in FORMATS:
        raise ReportError("format", f"must be one of {', '.join(FORMATS)}")
    filters = parameters.get("filters") or {}
    if not isinstance(filters, dict):
        raise ReportError("filters", "must be an object of filter names and values")
    allowed = DATASETS[dataset].filters
    for name, value in filters.items():
        if name not in allowed:
            raise ReportError(f"filters.{name}", f"is not a filter of {dataset}; use {', '.join(allowed) or 'none'}")
        allowed[name].parse(name, value)
    return {"dataset": dataset, "format": fmt, "filters": filters}


def export_rows(parameters: dict):
    """(headers, total row count, row iterator) for a validated export."""
    dataset = DATASETS[parameters["dataset"]]
    lookups = {dataset.filters[n].lookup: dataset.filters[n].parse(n, v) for n, v in parameters["filters"].items()}
    queryset = dataset.queryset().filter(**lookups).order_by("pk")
    paths = [path for _, path in dataset.columns]
    return [header for header, _ in dataset.columns], queryset.count(), queryset.values_list(*paths).iterator(chunk_size=CHUNK)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value):
    """A text cell a spreadsheet would read as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def plain(value):
    """A cell value for CSV and JSON."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, (int, float, str)) else str(value)


def _excel(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value  # XLSX has no time zones: UTC
    if value is None or isinstance(value, (int, float, Decimal, bool, date)):
        return value
    return neutralised(value if isinstance(value, str) else str(value))


def _excel_row(sheet, values) -> list:
    """Cells for openpyxl's write-only sheet; text is forced to be text (openpyxl would store a
    string that begins with "=" as a formula)."""
    from openpyxl.cell import WriteOnlyCell  # noqa: PLC0415 (openpyxl loads only when a spreadsheet is read or written (a worker that never does saves ~10 MB))

    cells = []
    for value in values:
        value = _excel(value)
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    return cells


def write(fmt: str, path: str, headers: list[str], rows: Iterable, on_row: Callable[[int], None] | None = None) -> int:
    """Stream ``rows`` into ``path`` as ``fmt``; returns the number of rows. ``on_row(n)`` is
    called every CHUNK rows (progress reporting)."""
    count = 0

    def tick():
        if on_row and count % CHUNK == 0:
            on_row(count)

    if fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            for row in rows:
                writer.writerow([neutralised(v) if isinstance(v, str) else plain(v) for v in row])
                count += 1
                tick()
    elif fmt == "json":
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("[")
            for row in rows:
                fh.write(("," if count else "") + "\n" + json.dumps(dict(zip(headers, map(plain, row))), ensure_ascii=False))
                count += 1
                tick()
            fh.write("\n]\n")
    elif fmt == "xlsx":
        from openpyxl import Workbook  # noqa: PLC0415 (openpyxl loads only when a spreadsheet is read or written (a worker that never does saves ~10 MB))

        book = Workbook(write_only=True)  # rows go to a temporary file, not memory
        sheet = book.create_sheet("export")
        sheet.append(headers)
        for row in rows:
            sheet.append(_excel_row(sheet, row))
            count += 1
            tick()
        book.save(path)
    else:
        raise ReportError("format", f"must be one of {', '.join(FORMATS)}")
    return count
