"""Input that once broke the API (500s, values accepted and dead-lettered, or stored and then
breaking every list page for everyone) is refused with a 400 naming the field, or a 413 for a
body over the limit, always as JSON, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.db import DataError, connection
from django.test import Client
from rest_framework.test import APIClient

from api.auth import token_create
from audit.models import AuditEntry
from jobs.core.errors import InvalidJob
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts import services as payouts
from payouts.models import LedgerEntry, Payout
from reports.models import Report

pytestmark = pytest.mark.django_db
BIG = 10**30


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", None)


@pytest.fixture
def client(root) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(root, 'inputs')[1]}")
    return api


@pytest.fixture
def payee(root):
    created = payouts.payee_create(root, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(created.pk, "100.00")
    return created


def counts() -> tuple:
    return (
        JobRecord.objects.count(),
        Payout.objects.count(),
        Report.objects.count(),
        LedgerEntry.objects.count(),
        AuditEntry.objects.exclude(action="token.create").count(),
    )


def refused(response, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()


@pytest.mark.parametrize(
    "path, body, field",
    [
        # unpaired surrogates: PostgreSQL refuses them (a 500), SQLite stores them (then every page fails)
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": "\ud800"}}, "kwargs.key"),
        (
            "/api/v1/reports/",
            {"kind": "export", "parameters": {"dataset": "jobs", "filters": {"queue": "\udfff"}}},
            "parameters.filters.queue",
        ),
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"\ud800": "key"}}, "kwargs"),
        # the arguments a task takes, checked against its signature at enqueue
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"nope": 1}}, "kwargs.nope"),
        ("/api/v1/jobs/", {"task": "test.count", "args": [1]}, "args[0]"),
        ("/api/v1/jobs/", {"task": "test.count", "args": ["a", "b"]}, "args"),
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": "x" * 70_000}}, "kwargs"),  # JOB_ARGS_MAX_BYTES
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": BIG}}, "kwargs.key"),
        ("/api/v1/jobs/", {"task": "test.count", "kwargs": {"key": json.loads("[" * 40 + "]" * 40)}}, "kwargs.key"),
        # amounts: too many digits, non-ASCII digits
        ("/api/v1/payouts/", {"payee": "{payee}", "amount": "1e30"}, "amount"),
        ("/api/v1/payouts/", {"payee": "{payee}", "amount": "1" * 30}, "amount"),
        ("/api/v1/payouts/", {"payee": "{payee}", "amount": "١٢"}, "amount"),
        # ids beyond a bigint
        ("/api/v1/payouts/", {"payee": BIG, "amount": "5.00"}, "payee"),
        ("/api/v1/payout-runs/", {"payees": [BIG]}, "payees"),
        ("/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "ledger", "filters": {"payee": str(BIG)}}}, "filters.payee"),
        ("/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "ledger", "filters": {"payee": "١٢"}}}, "filters.payee"),
        # dates that overflow a day's arithmetic
        (
            "/api/v1/reports/",
            {"kind": "payout_summary", "parameters": {"period_start": "9999-12-30", "period_end": "9999-12-31"}},
            "period_start",
        ),
        (
            "/api/v1/reports/",
            {"kind": "export", "parameters": {"dataset": "payouts", "filters": {"created_to": "9999-12-31"}}},
            "filters.created_to",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(client, payee, path, body, field):
    body = json.dumps(body).replace('"{payee}"', str(payee.pk))  # json.dumps escapes the surrogates as \ud800, as a client would
    before = counts()
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert any(field in key for key in response.json()), response.json()
    assert counts() == before


def test_json_nested_beyond_what_python_parses_is_a_400(client):
    before = counts()
    response = client.post("/api/v1/jobs/", "[" * 100_000 + "]" * 100_000, content_type="application/json")
    refused(response, "detail")
    assert counts() == before


def test_a_body_over_the_limit_is_a_413_in_json_before_it_is_read(client, settings):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    body = json.dumps({"task": "test.count", "kwargs": {"key": "x" * (20 * 1024 * 1024)}})
    response = client.post("/api/v1/jobs/", body, content_type="application/json")
    refused(response, "detail", status=413)
    assert "API_MAX_BODY_BYTES" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/payouts/99999999999999999999999/",
        "/api/v1/users/99999999999999999999/jobs/",
        "/api/v1/reports/99999999999999999999/",
        "/api/v1/imports/0/",
    ],
)
def test_ids_out_of_range_are_404s(client, path):
    refused(client.get(path), "detail", status=404)


@pytest.mark.parametrize("query, field", [("limit=١٢", "limit"), ("limit=99999999999999999999", "limit"), ("page_size=١", "page_size")])
def test_counts_in_query_strings_are_ascii_digits(client, query, field):
    refused(client.get(f"/api/v1/jobs/recent/?{query}" if field == "limit" else f"/api/v1/jobs/?{query}"), field)


@pytest.mark.parametrize("args, field", [(["abc"], "args[0]"), ([], "args"), ([1, 2], "args"), ([True], "args[0]")])
def test_a_tasks_arguments_are_checked_against_its_signature(args, field):
    with pytest.raises(InvalidJob) as info:
        enqueue("payouts.process", args)
    assert info.value.field == field
    assert not JobRecord.objects.exists()


@pytest.mark.parametrize("amount", ["1e30", "١٢", "1E+5", "NaN", "Infinity", "0x10", "12,50", " ", ""])
def test_amounts_are_plain_ascii_decimals(payee, amount):
    with pytest.raises(payouts.PayoutError) as info:
        payouts.ledger_credit(payee.pk, amount)
    assert info.value.field == "amount"


def test_a_stored_unpaired_surrogate_never_breaks_a_page(client, root, django_user_model):
    """What is already in the database is shown, with U+FFFD in its place."""
    job = enqueue("test.count", kwargs={"key": "fine"}, created_by=root)
    report = Report.objects.create(kind=Report.Kind.EXPORT, parameters={"dataset": "jobs"}, requested_by=root)
    table, reports = JobRecord._meta.db_table, Report._meta.db_table
    if connection.vendor == "postgresql":  # PostgreSQL's jsonb cannot hold one: the class of fault cannot arise there
        with pytest.raises(DataError), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET kwargs = %s::jsonb WHERE id = %s", ['{"key": "\\ud800"}', job.pk])
        return
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET kwargs = %s, result = %s WHERE id = %s", ['{"key": "\\ud800"}', '"\\udfff"', job.pk.hex])
        cursor.execute(f"UPDATE {reports} SET parameters = %s WHERE id = %s", ['{"dataset": "jobs", "note": "\\ud800x"}', report.pk])
    for path in ("/api/v1/jobs/", f"/api/v1/jobs/{job.pk}/", "/api/v1/jobs/recent/", "/api/v1/reports/", f"/api/v1/reports/{report.pk}/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "\ufffd" in response.content.decode()
    admin = Client()
    admin.force_login(root)
    for path in (
        "/admin/jobs/jobrecord/",
        f"/admin/jobs/jobrecord/{job.pk}/change/",
        "/admin/reports/report/",
        f"/admin/reports/report/{report.pk}/change/",
    ):
        assert admin.get(path).status_code == 200, path
