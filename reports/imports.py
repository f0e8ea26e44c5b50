"""Imports of payees and ledger credits from CSV or XLSX, row by row.

The file is checked when it is uploaded (size, type, encoding, columns): a malformed file
is refused with a message naming the problem and nothing is stored. Then a job applies
each row in its own transaction through the payouts services: valid rows are applied,
invalid ones reported with their row number and field. Importing the same file again
creates nothing new: payees are matched by username (unchanged ones are skipped) and
credits by their ``reference`` (unique per payee in the ledger).

The stored file holds whole account numbers: it is encrypted at rest with the payout vault's
key (payouts.vault) and deleted IMPORT_FILE_RETENTION seconds after the import finished
(``import_expire_files``, run by the file retention schedule). Every change a row makes is
audited in the name of the person who uploaded the file.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from audit.services import audit
from jobs.ops.enqueue import enqueue_for
from payouts import services as payouts
from payouts import vault
from payouts.destinations import compact_account
from payouts.models import Payee
from reports.exports import ReportError
from reports.models import Import

COLUMNS = {
    Import.Kind.PAYEES: {
        "required": ("username", "currency"),
        "optional": ("email", "account", "method", "threshold", "active", "beneficiary_name", "bic", "routing_number"),
    },
    Import.Kind.LEDGER: {"required": ("username", "amount", "reference"), "optional": ("currency", "memo")},
}
MAX_ERRORS = 1000
PROGRESS_EVERY = 200


class RowError(Exception):
    """Why a row was not applied: one (field, message) per bad field, all of them at once."""

    def __init__(self, field_or_problems, message: str | None = None):
        self.problems = [(field_or_problems, message)] if message is not None else list(field_or_problems)
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.problems))


class Problems:
    """Collects a row's bad fields; ``check()`` raises them together."""

    def __init__(self):
        self.found: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.found.append((field, message))

    def amount(self, value, field: str):
        try:
            return payouts._amount(value, field)
        except payouts.PayoutError as exc:
            self.add(field, exc.message)
            return None

    def check(self) -> None:
        if self.found:
            raise RowError(self.found)


# --- Reading -----------------------------------------------------------------


def _format(name: str, data: bytes) -> str:
    lower = name.lower()
    if lower.endswith(".xlsx"):
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ReportError("file", f"{name} is not an XLSX spreadsheet (it is not a zip package)")
        return "xlsx"
    if lower.endswith(".csv"):
        try:
            codecs.decode(data, "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ReportError("file", f"{name} is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
        return "csv"
    raise ReportError("file", f"{name}: only .csv and .xlsx files can be imported")


def read_rows(fmt: str, data: bytes) -> tuple[list[str], Iterator[list]]:
    """(header, iterator of rows) of a CSV or the first sheet of an XLSX."""
    if fmt == "csv":
        reader = csv.reader(io.StringIO(codecs.decode(data, "utf-8-sig"), newline=""))
        header = next(reader, [])
        return [h.strip().lower() for h in header], reader
    from openpyxl import load_workbook  # noqa: PLC0415 (openpyxl loads only when a spreadsheet is read or written (a worker that never does saves ~10 MB))

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken package
        raise ReportError("file", f"the spreadsheet cannot be read: {exc}") from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = next(rows, ()) or ()
    return [str(h or "").strip().lower() for h in header], (["" if v is None else v for v in row] for row in rows)


def check_columns(kind: str, header: list[str]) -> None:
    spec = COLUMNS[kind]
    missing = [c for c in spec["required"] if c not in header]
    unknown = [c for c in header if c and c not in spec["required"] + spec["optional"]]
    if missing or unknown:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])
        raise ReportError(
            "file",
            f"wrong columns ({'; '.join(parts)}); expected {', '.join(spec['required'])} and optionally {', '.join(spec['optional'])}",
        )


# --- Requesting ----------------------------------------------------------------

ENCRYPTED_SUFFIX = ".enc"


def import_check(kind: str, upload) -> tuple[bytes, str]:
    """Check an uploaded file for an import of ``kind``: (its bytes, "csv" or "xlsx"). Raises
    ReportError naming the field; stores nothing."""
    if kind not in Import.Kind.values:
        raise ReportError("kind", f"must be one of {', '.join(Import.Kind.values)}")
    if upload is None:
        raise ReportError("file", "is required")
    if upload.size > settings.IMPORT_MAX_BYTES:
        raise ReportError("file", f"{upload.name} is {upload.size} bytes; the limit is {settings.IMPORT_MAX_BYTES} (IMPORT_MAX_BYTES)")
    data = upload.read()
    if not data:
        raise ReportError("file", f"{upload.name} is empty")
    fmt = _format(upload.name, data)
    header, _ = read_rows(fmt, data)
    check_columns(kind, header)
    return data, fmt


def import_request(kind: str, upload, *, requested_by=None) -> Import:
    """Check the uploaded file, store it encrypted and enqueue its import. Raises ReportError
    naming the field (nothing stored)."""
    data, fmt = import_check(kind, upload)
    user = requested_by if getattr(requested_by, "is_authenticated", False) else None
    with transaction.atomic():
        record = Import(kind=kind, original_name=upload.name[:255], sha256=hashlib.sha256(data).hexdigest(), requested_by=user)
        record.file.save(
            f"{kind}-{timezone.now():%Y%m%d-%H%M%S}.{fmt}{ENCRYPTED_SUFFIX}", ContentFile(vault.encrypt_bytes(data)), save=False
        )
        record.save()
        enqueue_for(record, "reports.import", [record.pk], queue="imports", created_by=user)
        audit(requested_by, "import.request", "import", record.pk, kind=kind, file=record.original_name, sha256=record.sha256)
    return record


# --- Applying ------------------------------------------------------------------


def _stored_file(record: Import) -> tuple[bytes, str]:
    """The uploaded file's bytes (decrypted) and its name without the encryption suffix. Files
    stored before encryption at rest are read as they are."""
    if not record.file:
        raise ReportError("file", f"the file of import {record.pk} was deleted by the retention rule (IMPORT_FILE_RETENTION)")
    with record.file.open("rb") as fh:
        data = fh.read()
    name = record.file.name
    if name.endswith(ENCRYPTED_SUFFIX):
        return vault.decrypt_bytes(data), name[: -len(ENCRYPTED_SUFFIX)]
    return data, name


def import_run(import_id: int, progress=lambda percent, message="": None) -> dict:
    record = Import.objects.select_related("requested_by").filter(pk=import_id).first()
    if record is None or not Import.STATES.move(
        Import.objects.filter(pk=record.pk),
        Import.STATES.sources_of(Import.State.RUNNING),
        Import.State.RUNNING,
        started_at=timezone.now(),
        progress=0,
    ):
        return {"import": import_id, "state": Import.State.DONE if record else "missing"}  # a done import is not applied twice
    data, name = _stored_file(record)
    fmt = _format(name, data)
    header, rows = read_rows(fmt, data)
    check_columns(record.kind, header)
    total = max(sum(1 for _ in read_rows(fmt, data)[1]), 1)
    # The changes are the uploader's: audit entries name them, with the import as the reason.
    actor, reason = record.requested_by or "system:import", f"import #{record.pk}"
    apply = partial(_apply_payee if record.kind == Import.Kind.PAYEES else _apply_credit, actor=actor, reason=reason)
    counts = {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    errors = []
    numbered = enumerate(rows, start=2)  # row 1 is the header
    while True:
        batch = list(itertools.islice(numbered, PROGRESS_EVERY))
        if not batch:
            break
        # One commit per batch, one savepoint per row: a bad row rolls back alone, and the
        # import does not pay a disk flush per row.
        with transaction.atomic():
            for number, values in batch:
                row = {name: ("" if value is None else str(value).strip()) for name, value in zip(header, values) if name}
                if not any(row.values()):
                    continue  # blank line
                try:
                    with transaction.atomic():
                        outcome = apply(row)
                    counts[outcome] += 1
                except RowError as exc:
                    counts["failed"] += 1
                    for field, message in exc.problems:
                        if len(errors) < MAX_ERRORS:
                            errors.append({"row": number, "field": field, "message": message})
        done = batch[-1][0] - 1
        percent = min(99, int(100 * done / total))
        Import.objects.filter(pk=record.pk).update(progress=percent, rows=done, **counts)
        progress(percent, f"{done} of {total} rows")
    Import.STATES.move(
        Import.objects.filter(pk=record.pk),
        {Import.State.RUNNING},
        Import.State.DONE,
        progress=100,
        rows=sum(counts.values()),
        errors=errors,
        finished_at=timezone.now(),
        **counts,
    )
    progress(100, "done")
    return {"import": record.pk, **counts}


def import_failed(import_id: int, error: str) -> None:
    Import.STATES.move(
        Import.objects.filter(pk=import_id),
        Import.STATES.sources_of(Import.State.FAILED),
        Import.State.FAILED,
        error=error[:2000],
        finished_at=timezone.now(),
    )


def import_expire_files(now=None) -> int:
    """Delete the uploaded files of imports that finished more than IMPORT_FILE_RETENTION
    seconds ago; the rows, counts and row errors stay. Returns how many were deleted."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.IMPORT_FILE_RETENTION)
    deleted = 0
    finished = Import.objects.filter(state__in=(Import.State.DONE, Import.State.FAILED), finished_at__lte=before).exclude(file="")
    for record in finished.iterator():
        record.file.delete(save=False)
        Import.objects.filter(pk=record.pk).update(file="", file_deleted_at=now)
        deleted += 1
    return deleted


def _payout_error(exc: payouts.PayoutError, column_of: dict | None = None) -> RowError:
    return RowError((column_of or {}).get(exc.field, exc.field), exc.message)


def _apply_payee(row: dict, *, actor, reason: str) -> str:
    User = get_user_model()
    problems = Problems()
    username = row.get("username", "")
    if not username or len(username) > 150:
        problems.add("username", "is required (at most 150 characters)")
    else:
        try:
            User.username_validator(username)
        except ValidationError as exc:
            problems.add("username", f"{username!r}: {' '.join(exc.messages)}")
    currency = row.get("currency", "").upper()
    if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        problems.add("currency", f"{row['currency']!r} is not a three-letter ISO 4217 code such as EUR")
    email = row.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems.add("email", f"{email!r} is not a valid email address")
    try:
        active = _boolean(row.get("active", ""), default=True)
    except RowError as exc:
        problems.found += exc.problems
        active = True
    threshold = problems.amount(row.get("threshold") or "10.00", "threshold")
    method = row.get("method") or "bank"
    if method not in Payee.Method.values:
        problems.add("method", f"must be one of {', '.join(Payee.Method.values)}")
    user = User.objects.filter(username=username).first() if username else None
    payee = Payee.objects.filter(user=user).first() if user else None
    if payee is None and not row.get("account"):
        problems.add("account", "is required for a new payee")
    if payee is None and not currency:
        problems.add("currency", "is required for a new payee")
    if payee is not None and currency and currency != payee.currency:
        problems.add("currency", f"the payee's account is in {payee.currency}; the currency of an existing payee does not change")
    problems.check()
    if payee is None:
        if user is None:
            user = User.objects.create_user(username, email or "")  # no password: they sign in once staff set one
        elif email and user.email != email:
            User.objects.filter(pk=user.pk).update(email=email)
        try:
            created = payouts.payee_create(
                user,
                currency=currency,
                account=row["account"],
                method=method,
                threshold=threshold,
                beneficiary_name=row.get("beneficiary_name", ""),
                bic=row.get("bic", ""),
                routing_number=row.get("routing_number", ""),
                actor=actor,
                reason=reason,
            )
        except payouts.PayoutError as exc:
            raise _payout_error(exc) from None
        if not active:
            payouts.payee_update(created.pk, actor=actor, reason=reason, active=False)
        return "created"
    changed = [name for name, value in (("threshold", threshold), ("active", active)) if getattr(payee, name) != value]
    if changed:
        payouts.payee_update(payee.pk, actor=actor, reason=reason, threshold=threshold, active=active)
    if email and user.email != email:
        User.objects.filter(pk=user.pk).update(email=email)
        changed.append("email")
    if row.get("beneficiary_name") and row["beneficiary_name"] != payee.beneficiary_name and not row.get("account"):
        try:
            payouts.payee_update(payee.pk, actor=actor, reason=reason, beneficiary_name=row["beneficiary_name"])
        except payouts.PayoutError as exc:
            raise _payout_error(exc) from None
        changed.append("beneficiary_name")
    bank = {"bic": row.get("bic", ""), "routing_number": row.get("routing_number", "")}
    new_bank = any(bank[name] and bank[name].upper() != getattr(payee, name) for name in bank)
    if row.get("account") and (new_bank or compact_account(row["account"]) != compact_account(payee.account())):
        name = row.get("beneficiary_name") or None
        try:
            payouts.payee_set_account(payee.pk, row["account"], **bank, beneficiary_name=name, actor=actor, reason=reason)
        except payouts.PayoutError as exc:
            raise _payout_error(exc) from None
        changed.append("account")
    return "updated" if changed else "skipped"


def _apply_credit(row: dict, *, actor, reason: str) -> str:
    problems = Problems()
    username, reference = row.get("username", ""), row.get("reference", "")
    if not reference:
        problems.add("reference", "is required (it is what makes a re-import skip this credit)")
    payee = Payee.objects.filter(user__username=username).only("pk", "currency").first() if username else None
    if payee is None:
        problems.add("username", f"no payee with username {username!r}")
    amount = problems.amount(row.get("amount", ""), "amount")
    currency = row.get("currency") or None
    if payee is not None and currency and currency.upper() != payee.currency:
        problems.add("currency", f"this payee's account is in {payee.currency}, not {currency}")
    problems.check()
    try:
        payouts.ledger_credit(
            payee.pk, amount, currency=currency, memo=row.get("memo", ""), reference=reference, actor=actor, reason=reason
        )
    except payouts.PayoutError as exc:
        if exc.field == "reference":
            return "skipped"  # posted before: a re-import
        raise _payout_error(exc, {"payee": "username"}) from None
    return "created"


def _boolean(value: str, *, default: bool) -> bool:
    value = value.strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "y"):
        return True
    if value in ("0", "false", "no", "n"):
        return False
    raise RowError("active", f"{value!r} is not true or false")
