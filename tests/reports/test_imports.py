"""Imports: row-by-row validation and counts, no duplicates on re-import, malformed files refused."""

import io
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.sweep import sweep
from payouts.models import LedgerEntry, Payee
from reports.exports import ReportError
from reports.imports import import_expire_files, import_request
from reports.models import Import

pytestmark = pytest.mark.django_db(transaction=True)

PAYEES = (
    "username,email,currency,account,threshold,active\n"
    "ann,ann@example.com,EUR,DE89370400440532013000,25.00,true\n"
    "bob,bob@example.com,eur,GB33BUKB20201555555555,,\n"
    "cat,not-an-email,EUR,123456789,,\n"
    "dan,,EUR,,,\n"
    "eve,,EURO,12345678,,\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def upload(name, text_or_bytes):
    data = text_or_bytes.encode() if isinstance(text_or_bytes, str) else text_or_bytes
    return SimpleUploadedFile(name, data)


def run(kind, name, content, run_worker):
    record = import_request(kind, upload(name, content))
    assert record.job.queue == "imports"
    run_worker("imports")
    record.refresh_from_db()
    return record


def test_payees_are_created_row_by_row_with_errors_by_row_and_field(run_worker):
    record = run("payees", "payees.csv", PAYEES, run_worker)
    assert (record.state, record.created, record.updated, record.skipped, record.failed) == ("done", 2, 0, 0, 3)
    assert [(e["row"], e["field"]) for e in record.errors] == [(4, "email"), (5, "account"), (6, "currency")]
    ann = Payee.objects.get(user__username="ann")
    assert ann.threshold == Decimal("25.00") and ann.account() == "DE89370400440532013000" and ann.user.email == "ann@example.com"
    assert Payee.objects.get(user__username="bob").currency == "EUR"
    assert record.progress == 100 and JobRecord.objects.get(pk=record.job_id).state == "succeeded"


def test_importing_the_same_file_again_creates_nothing(run_worker):
    run("payees", "payees.csv", PAYEES, run_worker)
    again = run("payees", "payees.csv", PAYEES, run_worker)
    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 2, 3)
    changed = run("payees", "payees.csv", PAYEES.replace("25.00,true", "30.00,false"), run_worker)
    assert (changed.created, changed.updated, changed.skipped) == (0, 1, 1)
    ann = Payee.objects.get(user__username="ann")
    assert ann.threshold == Decimal("30.00") and not ann.active
    assert Payee.objects.count() == 2


def test_ledger_credits_from_xlsx_count_once_by_reference(run_worker):
    run("payees", "payees.csv", PAYEES, run_worker)
    book = Workbook()
    sheet = book.active
    sheet.append(["username", "amount", "currency", "memo", "reference"])
    sheet.append(["ann", 12.5, "EUR", "sale 1", "inv-1"])
    sheet.append(["ann", "7.25", None, "sale 2", "inv-2"])
    sheet.append(["bob", "-3", "EUR", "refund", "inv-3"])
    sheet.append(["zed", "1", "EUR", "?", "inv-4"])
    sheet.append(["bob", "4", "USD", "wrong money", "inv-5"])
    sheet.append(["bob", "4", "EUR", "no reference", None])
    buffer = io.BytesIO()
    book.save(buffer)
    record = run("ledger", "credits.xlsx", buffer.getvalue(), run_worker)
    assert (record.created, record.skipped, record.failed) == (2, 0, 4)
    assert [(e["row"], e["field"]) for e in record.errors] == [(4, "amount"), (5, "username"), (6, "currency"), (7, "reference")]
    again = run("ledger", "credits.xlsx", buffer.getvalue(), run_worker)
    assert (again.created, again.skipped) == (0, 2)
    ann = Payee.objects.get(user__username="ann")
    assert ann.balance == Decimal("19.75") and LedgerEntry.objects.filter(payee=ann).count() == 2


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("payees.csv", "user,currency\nann,EUR\n", "wrong columns (missing username; unknown user)"),
        ("payees.csv", "username,currency\nann,EUR\n".encode("utf-16"), "is not UTF-8 text"),
        ("payees.xlsx", b"this is not a spreadsheet", "is not an XLSX spreadsheet"),
        ("payees.pdf", b"%PDF-1.4", "only .csv and .xlsx files"),
        ("payees.csv", b"", "is empty"),
    ],
)
def test_malformed_files_are_refused_and_change_nothing(name, content, message):
    with pytest.raises(ReportError) as info:
        import_request("payees", upload(name, content))
    assert info.value.field == "file" and message in info.value.message
    assert not Import.objects.exists() and not JobRecord.objects.exists()


def test_too_large_files_are_refused(settings):
    settings.IMPORT_MAX_BYTES = 1024
    with pytest.raises(ReportError) as info:
        import_request("payees", upload("payees.csv", "username,currency\n" + "ann,EUR\n" * 200))
    assert "the limit is 1024" in info.value.message and not Import.objects.exists()


def test_staff_upload_from_the_admin(client, django_user_model, run_worker):
    client.force_login(django_user_model.objects.create_superuser("ops", "o@example.com", "pw"))
    response = client.post(reverse("admin:reports_import_add"), {"kind": "payees", "upload": upload("p.csv", PAYEES)})
    assert response.status_code == 302
    bad = client.post(reverse("admin:reports_import_add"), {"kind": "payees", "upload": upload("p.csv", "nope\n1\n")})
    assert bad.status_code == 200 and b"wrong columns" in bad.content and Import.objects.count() == 1
    run_worker("imports")
    record = Import.objects.get()
    page = client.get(reverse("admin:reports_import_change", args=[record.pk]))
    assert page.status_code == 200 and b"not a valid email address" in page.content


def test_an_import_whose_file_vanished_is_retried_then_marked_failed(run_worker):
    record = import_request("payees", upload("payees.csv", PAYEES))
    record.file.delete(save=False)  # the storage lost it
    JobRecord.objects.filter(pk=record.job_id).update(retry_policy={"kind": "fixed", "retries": 1, "delay": 0}, max_attempts=2)
    run_worker("imports")
    assert JobRecord.objects.get(pk=record.job_id).state == State.RETRYING
    JobRecord.objects.filter(pk=record.job_id).update(run_at=timezone.now())
    sweep()
    run_worker("imports")
    record.refresh_from_db()
    assert record.state == "failed" and ("No such file" in record.error or "FileNotFoundError" in record.error)
    assert JobRecord.objects.get(pk=record.job_id).state == State.DEAD and not Payee.objects.exists()


def test_uploaded_files_are_encrypted_at_rest_and_read_back(run_worker):
    record = import_request("payees", upload("payees.csv", PAYEES))
    with record.file.open("rb") as fh:
        stored = fh.read()
    assert record.file.name.endswith(".csv.enc")
    assert b"DE89370400440532013000" not in stored and b"username" not in stored
    run_worker("imports")
    record.refresh_from_db()
    assert record.state == "done" and record.created == 2


def test_uploaded_files_are_deleted_after_the_retention_period(run_worker, settings):
    settings.IMPORT_FILE_RETENTION = 3600
    record = run("payees", "payees.csv", PAYEES, run_worker)
    path = record.file.path
    assert import_expire_files() == 0  # finished just now: kept
    Import.objects.filter(pk=record.pk).update(finished_at=timezone.now() - timedelta(hours=2))
    assert import_expire_files() == 1
    record.refresh_from_db()
    assert not record.file and record.file_deleted_at is not None and record.created == 2 and record.errors
    assert not os.path.exists(path)
    assert import_expire_files() == 0


def test_usernames_made_by_an_import_pass_djangos_username_validator(run_worker):
    record = run(
        "payees", "payees.csv", "username,currency,account\nbad name!,EUR,DE89370400440532013000\nok.name,EUR,12345678\n", run_worker
    )
    assert (record.created, record.failed) == (1, 1)
    assert record.errors[0]["field"] == "username" and "bad name!" in record.errors[0]["message"]


def test_every_change_an_import_makes_is_audited_in_the_uploaders_name(run_worker, django_user_model):
    uploader = django_user_model.objects.create_user("fin")
    record = import_request("payees", upload("payees.csv", PAYEES), requested_by=uploader)
    run_worker("imports")
    actions = AuditEntry.objects.filter(object_type="payee")
    assert actions.count() == 2 and {a.actor for a in actions} == {uploader}
    assert {a.reason for a in actions} == {f"import #{record.pk}"}
    assert not AuditEntry.objects.filter(actor_label="system:import").exists()


def test_non_ascii_digits_are_not_read_as_amounts(run_worker):
    run("payees", "payees.csv", PAYEES, run_worker)
    record = run("ledger", "ledger.csv", "username,amount,reference\nann,١٢,r-1\nann,12.00,r-2\n", run_worker)
    assert (record.created, record.failed) == (1, 1) and record.errors[0]["field"] == "amount"
    assert Payee.objects.get(user__username="ann").balance == Decimal("12.00")


def test_a_row_with_several_bad_fields_reports_every_one(run_worker):
    record = run(
        "payees",
        "payees.csv",
        "username,email,currency,account,threshold,active,method\nbad name!,not-an-email,EURO,,abc,maybe,cheque\n",
        run_worker,
    )
    assert record.failed == 1
    assert sorted(e["field"] for e in record.errors) == ["account", "active", "currency", "email", "method", "threshold", "username"]
    assert {e["row"] for e in record.errors} == {2}
    credits = run("ledger", "ledger.csv", "username,amount,reference\nnobody,1e30,\n", run_worker)
    assert sorted(e["field"] for e in credits.errors) == ["amount", "reference", "username"]


def test_payee_bank_details_are_imported_and_checked(run_worker):
    record = run(
        "payees",
        "payees.csv",
        "username,currency,account,bic,routing_number,beneficiary_name\n"
        "iris,EUR,DE89 3704 0044 0532 0130 00,COBADEFFXXX,,Iris Ng\n"
        "uma,USD,000123456789,,021000021,Uma Roy\n"
        "vic,EUR,DE89370400440532013001,,,Vic Ode\n"
        "wes,EUR,DE89370400440532013000,BUKBGB22,,Wes Tan\n",
        run_worker,
    )
    assert (record.created, record.failed) == (2, 2)
    assert [(e["field"], e["message"].split(":")[0]) for e in record.errors] == [
        ("account", "is not a valid IBAN"),
        ("bic", "is a bank in GB, the IBAN's is in DE"),
    ]
    iris, uma = Payee.objects.get(user__username="iris"), Payee.objects.get(user__username="uma")
    assert (iris.account(), iris.account_scheme, iris.bic, iris.beneficiary_name) == (
        "DE89370400440532013000",
        "iban",
        "COBADEFFXXX",
        "Iris Ng",
    )
    assert (uma.account_scheme, uma.routing_number, uma.beneficiary_name) == ("us_aba", "021000021", "Uma Roy")
    # The same file again changes nothing; a new routing number is a new destination.
    again = run("payees", "payees.csv", "username,currency,account,routing_number\numa,USD,000123456789,011000015\n", run_worker)
    assert (again.updated, again.skipped) == (1, 0)
    uma.refresh_from_db()
    assert uma.routing_number == "011000015" and uma.beneficiary_name == "Uma Roy"
