"""Reports and exports: requested, generated with progress, downloadable by whom may see them, expired."""

import csv
import io
import json
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts import services as payouts
from reports import builders, services
from reports.exports import ReportError
from reports.models import Report

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = timezone.now().date().isoformat()  # for parameters fixed at collection, where the date does not matter


def today() -> str:
    """The date the rows a test creates carry: read when the test runs, not at collection (a suite
    that crosses midnight UTC would ask for the day before its payouts)."""
    return timezone.now().date().isoformat()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")


@pytest.fixture
def books(django_user_model, run_worker):
    user = django_user_model.objects.create_user("alice", "alice@example.com", "pw")
    payee = payouts.payee_create(user, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(payee.pk, "100.00", memo="sale")
    payouts.payout_request(payee.pk, "30.00")
    run_worker()  # paid
    return payee


def content(report) -> str:
    report.refresh_from_db()
    with report.file.open("rb") as fh:
        return fh.read().decode()


def test_a_payout_summary_is_generated_with_progress_and_stored(run_worker, staff, books):
    report = services.report_request("payout_summary", {"period_start": today(), "period_end": today()}, requested_by=staff)
    assert report.state == "requested" and report.job.queue == "reports"
    run_worker()
    report.refresh_from_db()
    assert report.state == "done" and report.progress == 100 and report.row_count == 1 and report.expires_at > timezone.now()
    rows = list(csv.reader(io.StringIO(content(report))))
    assert rows[0] == ["currency", "state", "payouts", "total"]
    assert rows[1][:3] == ["EUR", "paid", "1"] and Decimal(rows[1][3]) == Decimal("30.00")
    assert AuditEntry.objects.filter(action="report.request", actor=staff).exists()


def test_a_payee_statement_has_opening_entries_running_and_closing_balance(run_worker, books):
    report = services.report_request("payee_statement", {"payee": books.pk, "period_start": today(), "period_end": today()})
    run_worker()
    rows = list(csv.reader(io.StringIO(content(report))))
    assert [r[1] for r in rows[1:]] == ["opening balance", "credit", "debit", "closing balance"]
    assert [Decimal(r[4]) for r in rows[1:]] == [Decimal("0"), Decimal("100.00"), Decimal("70.00"), Decimal("70.00")]


def test_the_daily_report_runs_once_per_day_from_its_task(run_worker, books):
    enqueue("reports.daily_report", [today()])
    run_worker()
    enqueue("reports.daily_report", [today()])
    run_worker()
    report = Report.objects.get(kind="daily_operations")
    text = content(report)
    assert report.state == "done" and "jobs,payouts,succeeded" in text and "payouts,EUR paid,total,30.00" in text


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_exports_in_each_format_with_filters(run_worker, books, fmt):
    payouts.ledger_credit(books.pk, "5.00", memo="bonus")
    report = services.report_request("export", {"dataset": "ledger", "format": fmt, "filters": {"kind": "credit"}})
    assert report.job.queue == "exports"
    run_worker()
    report.refresh_from_db()
    assert report.state == "done" and report.row_count == 2 and report.file_name.endswith("." + fmt)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(content(report))))
        assert [r["amount"] for r in rows] == ["100.00", "5.00"] and rows[0]["username"] == "alice"
    elif fmt == "json":
        rows = json.loads(content(report))
        assert [r["memo"] for r in rows] == ["sale", "bonus"]
    else:
        with report.file.open("rb") as fh:
            sheet = load_workbook(fh, read_only=True).active
            values = list(sheet.iter_rows(values_only=True))
        assert values[0][:5] == ("id", "payee_id", "username", "kind", "amount") and len(values) == 3


@pytest.mark.parametrize(
    "kind, params, field",
    [
        ("nonsense", {}, "kind"),
        ("payout_summary", {"period_start": "2026-13-01", "period_end": TODAY}, "period_start"),
        ("payout_summary", {"period_start": TODAY, "period_end": "2020-01-01"}, "period_end"),
        ("payee_statement", {"payee": 999, "period_start": TODAY, "period_end": TODAY}, "payee"),
        ("daily_operations", {}, "date"),
        ("export", {"dataset": "secrets"}, "dataset"),
        ("export", {"dataset": "payouts", "format": "pdf"}, "format"),
        ("export", {"dataset": "payouts", "filters": {"colour": "red"}}, "filters.colour"),
        ("export", {"dataset": "payouts", "filters": {"state": "lost"}}, "filters.state"),
        ("export", {"dataset": "jobs", "filters": {"created_from": "yesterday"}}, "filters.created_from"),
    ],
)
def test_bad_parameters_name_the_field_and_create_nothing(kind, params, field):
    with pytest.raises(ReportError) as info:
        services.report_request(kind, params)
    assert info.value.field == field
    assert not Report.objects.exists() and not JobRecord.objects.exists()


def test_only_the_requester_the_payee_and_staff_may_download(client, run_worker, books, django_user_model, staff):
    report = services.report_request("payee_statement", {"payee": books.pk, "period_start": today(), "period_end": today()})
    run_worker()
    url = reverse("reports:download", args=[report.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("mallory", "m@example.com", "pw"))
    assert client.get(url).status_code == 404
    client.force_login(books.user)  # the payee: their own statement
    response = client.get(url)
    assert response.status_code == 200 and b"closing balance" in b"".join(response.streaming_content)
    assert 'attachment; filename="payee-statement-' in response["Content-Disposition"]
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_files_expire_by_the_retention_rule(client, run_worker, staff, books):
    report = services.report_request("export", {"dataset": "payees", "format": "csv"}, requested_by=staff)
    run_worker()
    report.refresh_from_db()
    path = report.file.path
    assert services.report_expire_files() == 0
    assert services.report_expire_files(timezone.now() + timedelta(days=8)) == 1
    report.refresh_from_db()
    assert report.state == "expired" and not report.file and not os.path.exists(path)
    client.force_login(staff)
    assert client.get(reverse("reports:download", args=[report.pk])).status_code == 410


def test_a_report_failing_on_its_last_attempt_is_marked_failed(run_worker, monkeypatch, books):
    def broken(parameters):
        raise RuntimeError("database on fire")
        yield  # pragma: no cover

    monkeypatch.setitem(builders.BUILDERS, "payout_summary", broken)
    report = services.report_request("payout_summary", {"period_start": today(), "period_end": today()})
    JobRecord.objects.filter(pk=report.job.pk).update(max_attempts=1, retry_policy={"kind": "fixed", "retries": 0, "delay": 0})
    run_worker()
    report.refresh_from_db()
    assert report.state == "failed" and "database on fire" in report.error
    assert JobRecord.objects.get(pk=report.job.pk).state == State.DEAD


def test_staff_request_reports_in_the_admin(client, staff, books, run_worker):
    client.force_login(staff)
    response = client.post(
        reverse("admin:reports_report_add"), {"kind": "export", "dataset": "payouts", "format": "json", "filters": '{"state": "paid"}'}
    )
    assert response.status_code == 302
    bad = client.post(
        reverse("admin:reports_report_add"), {"kind": "export", "dataset": "payouts", "format": "csv", "filters": '{"state": "lost"}'}
    )
    assert bad.status_code == 200 and b"must be one of" in bad.content
    bad = client.post(
        reverse("admin:reports_report_add"), {"kind": "payee_statement", "payee": "999", "period_start": today(), "period_end": today()}
    )
    assert bad.status_code == 200 and b"no payee with id" in bad.content
    assert Report.objects.count() == 1
    run_worker()
    page = client.get(reverse("admin:reports_report_changelist"))
    assert page.status_code == 200 and b"payouts-export-" in page.content
    report = Report.objects.get()
    assert client.get(reverse("admin:reports_report_change", args=[report.pk])).status_code == 200


def test_a_payee_export_never_contains_account_numbers(run_worker, books):
    report = services.report_request("export", {"dataset": "payees", "format": "csv", "filters": {"active": "true", "currency": "eur"}})
    run_worker()
    text = content(report)
    assert "alice" in text and "3000" in text and "DE89370400440532013000" not in text and "method_secret" not in text
