"""REST API for payouts, reports and imports: who may do what, and bad input as 400s."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from api.auth import token_create
from payouts import services
from payouts.models import Payout
from reports.models import Import, Report

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = dt.date.today().isoformat()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def people(django_user_model):
    users = {
        "user": django_user_model.objects.create_user("ann", "ann@example.com", "pw"),
        "other": django_user_model.objects.create_user("bob", "bob@example.com", "pw"),
        "staff": django_user_model.objects.create_superuser("ops", "ops@example.com", "pw"),
    }
    for name in ("user", "other"):
        payee = services.payee_create(users[name], currency="EUR", account="DE89370400440532013000")
        services.ledger_credit(payee.pk, "100.00")
    return users


def as_(person=None) -> APIClient:
    client = APIClient()
    if person is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(person, 'test')[1]}")
    return client


def test_users_request_and_see_only_their_own_payouts(people):
    ann, bob = people["user"].payee, people["other"].payee
    created = as_(people["user"]).post("/api/v1/payouts/", {"payee": ann.pk, "amount": "25.00"}, format="json")
    assert created.status_code == 201 and created.json()["state"] == "approved"
    refused = as_(people["user"]).post("/api/v1/payouts/", {"payee": bob.pk, "amount": "5"}, format="json")
    assert refused.status_code == 403 and "payouts.request_payout" in refused.json()["detail"]
    assert [p["payee"] for p in as_(people["other"]).get("/api/v1/payouts/").json()["results"]] == []
    assert as_(people["other"]).get(f"/api/v1/payouts/{created.json()['id']}/").status_code == 404
    assert len(as_(people["staff"]).get("/api/v1/payouts/").json()["results"]) == 1
    assert as_().get("/api/v1/payouts/").status_code == 401


@pytest.mark.parametrize(
    "body, field",
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "500"}, "amount"),
        ({"amount": "5", "currency": "USD"}, "currency"),
        ({"amount": "5", "payee": 99999}, "payee"),
        ({"amount": "abc"}, "amount"),
    ],
)
def test_bad_payout_requests_name_the_field_and_change_nothing(people, body, field):
    response = as_(people["staff"]).post("/api/v1/payouts/", {"payee": people["user"].payee.pk, **body}, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Payout.objects.exists()


def test_staff_actions_and_runs(people):
    payout = services.payout_request(people["user"].payee.pk, "10")
    staff, user = as_(people["staff"]), as_(people["user"])
    assert user.post(f"/api/v1/payouts/{payout.pk}/cancel/").status_code == 403
    assert staff.post(f"/api/v1/payouts/{payout.pk}/cancel/", {"reason": "test"}, format="json").json()["state"] == "cancelled"
    assert "state" in staff.post(f"/api/v1/payouts/{payout.pk}/approve/").json()
    preview = staff.post("/api/v1/payout-runs/", {"dry_run": True}, format="json")
    assert preview.status_code == 200 and len(preview.json()["payouts"]) == 2 and Payout.objects.count() == 1
    run = staff.post("/api/v1/payout-runs/", {"payees": [people["user"].payee.pk]}, format="json")
    assert run.status_code == 201 and run.json()["total"] == "100.00"
    assert staff.post("/api/v1/payout-runs/", {"payees": [424242]}, format="json").json().keys() == {"payees"}
    assert user.post("/api/v1/payout-runs/", {}, format="json").status_code == 403


def test_reports_statements_for_their_owner_and_downloads(people, run_worker):
    ann = people["user"]
    own = as_(ann).post(
        "/api/v1/reports/",
        {"kind": "payee_statement", "parameters": {"payee": ann.payee.pk, "period_start": TODAY, "period_end": TODAY}},
        format="json",
    )
    assert own.status_code == 201
    for body in (
        {"kind": "payee_statement", "parameters": {"payee": people["other"].payee.pk, "period_start": TODAY, "period_end": TODAY}},
        {"kind": "export", "parameters": {"dataset": "payouts"}},
    ):
        refused = as_(ann).post("/api/v1/reports/", body, format="json")
        assert refused.status_code == 403 and "reports.add_report" in refused.json()["detail"]
    bad = as_(people["staff"]).post(
        "/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "payouts", "format": "pdf"}}, format="json"
    )
    assert bad.status_code == 400 and "format" in bad.json()
    run_worker()
    report_id = own.json()["id"]
    assert as_(ann).get(f"/api/v1/reports/{report_id}/").json()["state"] == "done"
    assert as_(people["other"]).get(f"/api/v1/reports/{report_id}/").status_code == 404
    download = as_(ann).get(f"/api/v1/reports/{report_id}/download/")
    assert download.status_code == 200 and b"closing balance" in b"".join(download.streaming_content)
    assert as_(people["other"]).get(f"/api/v1/reports/{report_id}/download/").status_code == 404
    assert as_().get(f"/api/v1/reports/{report_id}/download/").status_code == 401
    assert [r["id"] for r in as_(ann).get("/api/v1/reports/").json()] == [report_id]
    assert Report.objects.count() == 1


def test_imports_are_uploaded_by_staff(people, run_worker):
    data = "username,amount,reference\nann,5.00,api-1\n"
    staff = as_(people["staff"])
    created = staff.post("/api/v1/imports/", {"kind": "ledger", "file": SimpleUploadedFile("c.csv", data.encode())}, format="multipart")
    assert created.status_code == 201
    bad = staff.post("/api/v1/imports/", {"kind": "ledger", "file": SimpleUploadedFile("c.csv", b"who,what\n")}, format="multipart")
    assert bad.status_code == 400 and "wrong columns" in bad.json()["file"][0]
    assert staff.post("/api/v1/imports/", {"kind": "ledger"}, format="multipart").json().keys() == {"file"}
    assert (
        as_(people["user"])
        .post("/api/v1/imports/", {"kind": "ledger", "file": SimpleUploadedFile("c.csv", data.encode())}, format="multipart")
        .status_code
        == 403
    )
    run_worker("imports")
    assert staff.get(f"/api/v1/imports/{created.json()['id']}/").json()["created"] == 1 and Import.objects.count() == 1
