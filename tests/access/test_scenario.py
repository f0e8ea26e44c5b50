"""The report that opened the security issue, replayed: a staff account with no permissions at
all tries, through every surface (the REST API, the admin, the dashboard and the RQ
dashboard), to change a payee's bank account, credit money, request and run payouts, enqueue
money tasks, read other people's data and steer queues. Every attempt is refused and nothing
changes. Then the same acts by people who hold exactly the permission for each."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.auth import token_create
from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord, QueueState, Schedule
from jobs.ops.enqueue import enqueue
from notifications.models import Notification
from payouts import services as payouts
from payouts.models import LedgerEntry, Payee, Payout
from reports.models import Import, Report
from tests.perms import grant

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def bank(django_user_model):
    victim = django_user_model.objects.create_user("vic", "vic@example.com")
    payee = payouts.payee_create(victim, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(payee.pk, "500.00", reference="salary")
    ops = django_user_model.objects.create_user("ops", "ops@example.com", "a-long-password-1", is_staff=True)
    mine = payouts.payee_create(ops, currency="EUR", account="GB33BUKB20201555555555")
    enqueue("test.count", kwargs={"key": "victim's"}, created_by=victim)
    dead = enqueue("test.count", kwargs={"key": "dead"}, created_by=victim)
    JobRecord.objects.filter(pk=dead.pk).update(state=State.DEAD, finished_at="2020-01-01T00:00:00Z")
    Notification.objects.create(channel="email", recipient="vic@example.com", template="message", state=Notification.State.FAILED)
    Report.objects.create(kind=Report.Kind.EXPORT, parameters={"dataset": "payees", "format": "csv", "filters": {}}, requested_by=victim)
    return {"victim": victim, "payee": payee, "ops": ops, "mine": mine, "dead": dead}


def snapshot() -> dict:
    return {
        "accounts": {p.pk: p.account() for p in Payee.objects.all()},
        "balances": {p.pk: (p.balance, p.held) for p in Payee.objects.all()},
        "ledger": LedgerEntry.objects.count(),
        "payouts": Payout.objects.count(),
        "jobs": JobRecord.objects.count(),
        "job_states": dict(JobRecord.objects.values_list("pk", "state")),
        "imports": Import.objects.count(),
        "reports": Report.objects.count(),
        "paused": set(QueueState.objects.filter(paused=True).values_list("name", flat=True)),
        "notifications": dict(Notification.objects.values_list("pk", "state")),
        "schedules": Schedule.objects.count(),
    }


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user, 'scenario')[1]}")
    return client


def test_staff_with_no_permissions_can_do_nothing_anywhere(bank, redis_db):
    ops, payee, dead = bank["ops"], bank["payee"], bank["dead"]
    before = snapshot()
    token = api(ops)
    payees_csv = SimpleUploadedFile("p.csv", b"username,currency,account\nvic,EUR,FR7630006000011234567890189\n")
    ledger_csv = SimpleUploadedFile("l.csv", b"username,amount,reference\nops,1000000.00,gift\n")
    refused_api = [
        token.post("/api/v1/imports/", {"kind": "payees", "file": payees_csv}, format="multipart"),
        token.post("/api/v1/imports/", {"kind": "ledger", "file": ledger_csv}, format="multipart"),
        token.post("/api/v1/payouts/", {"payee": payee.pk, "amount": "400.00"}, format="json"),
        token.post("/api/v1/jobs/", {"task": "payouts.daily_run"}, format="json"),
        token.post("/api/v1/jobs/", {"task": "test.count"}, format="json"),
        token.post("/api/v1/payout-runs/", {}, format="json"),
        token.post("/api/v1/queues/payouts/pause/", {}, format="json"),
        token.post("/api/v1/queues/default/clean/", {"state": "dead", "grace": 0}, format="json"),
        token.post(f"/api/v1/jobs/{dead.pk}/retry/", {}, format="json"),
        token.post("/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "payees"}}, format="json"),
        token.post("/api/v1/reports/", {"kind": "export", "parameters": {"dataset": "ledger"}}, format="json"),
        token.get("/api/v1/queues/"),
        token.get("/api/v1/dead-letter/"),
        token.get(f"/api/v1/users/{bank['victim'].pk}/jobs/"),
    ]
    assert [r.status_code for r in refused_api] == [403] * len(refused_api), [(r.status_code, r.content[:120]) for r in refused_api]
    # reads answer, with only what is the staff member's own: nothing of the victim's
    assert token.get("/api/v1/payouts/").json()["results"] == []
    assert token.get("/api/v1/jobs/").json()["results"] == []
    assert token.get("/api/v1/reports/").json() == [] and token.get("/api/v1/imports/").json() == []
    assert token.get(f"/api/v1/jobs/{dead.pk}/").status_code == 404 and token.delete(f"/api/v1/jobs/{dead.pk}/").status_code == 404

    admin = Client()
    admin.force_login(ops)
    assert admin.get("/admin/").status_code == 200  # may log in, sees nothing
    refused_admin = [
        admin.get("/admin/payouts/payee/"),
        admin.get(f"/admin/payouts/payee/{payee.pk}/change/"),
        admin.post(
            f"/admin/payouts/payee/{payee.pk}/change/",
            {
                "user": bank["victim"].pk,
                "currency": "EUR",
                "method": "bank",
                "account_number": "FR7630006000011234567890189",
                "threshold": "10.00",
            },
        ),
        admin.post("/admin/payouts/ledgerentry/add/", {"payee": bank["mine"].pk, "amount": "1000000.00", "memo": "gift"}),
        admin.post("/admin/payouts/payee/", {"action": "pay_now", "_selected_action": [payee.pk]}),
        admin.post("/admin/reports/import/add/", {"kind": "ledger", "upload": SimpleUploadedFile("l.csv", b"username,amount,reference\n")}),
        admin.get("/admin/notifications/notification/"),
        admin.post(
            "/admin/notifications/notification/",
            {"action": "send_again", "_selected_action": list(Notification.objects.values_list("pk", flat=True))},
        ),
        admin.post(
            "/admin/jobs/schedule/add/",
            {
                "name": "pay",
                "task_name": "payouts.daily_run",
                "args": "[]",
                "kwargs": "{}",
                "interval_seconds": "60",
                "timezone": "UTC",
                "missed_fires": "run_once",
                "enabled": "on",
            },
        ),
        admin.get("/admin/dashboard/"),
        admin.post("/admin/dashboard/queues/payouts/pause/"),
        admin.post(f"/admin/dashboard/jobs/{dead.pk}/retry/"),
        admin.get("/admin/django_rq/dashboard/"),
        admin.post("/admin/django_rq/dashboard/queues/0/empty/"),
        admin.get("/admin/django_rq/dashboard/stats.json"),
        admin.post("/admin/api/apitoken/add/", {"user": bank["victim"].pk, "name": "theirs"}),
    ]
    assert [r.status_code for r in refused_admin] == [403] * len(refused_admin), [r.status_code for r in refused_admin]
    assert "Payouts" not in admin.get("/admin/").content.decode()
    assert snapshot() == before
    assert not AuditEntry.objects.filter(actor=ops).exclude(action="token.create").exists()


@pytest.mark.django_db(transaction=True)
def test_each_act_needs_exactly_its_permission(bank, django_user_model, settings, run_worker):
    """The same acts, by people who hold just what each needs: they work, and leave an audit
    entry in their name."""
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("1000.00")
    payee = bank["payee"]
    finance = grant(django_user_model.objects.create_user("fin", is_staff=True), "reports.import_ledger", "payouts.request_payout")
    approver = grant(django_user_model.objects.create_user("apr", is_staff=True), "payouts.approve_payout")
    ledger = SimpleUploadedFile("l.csv", b"username,amount,reference\nvic,2000.00,bonus\n")
    assert api(finance).post("/api/v1/imports/", {"kind": "ledger", "file": ledger}, format="multipart").status_code == 201
    payees = SimpleUploadedFile("p.csv", b"username,currency,account\nvic,EUR,FR7630006000011234567890189\n")
    assert api(finance).post("/api/v1/imports/", {"kind": "payees", "file": payees}, format="multipart").status_code == 403
    run_worker("imports")
    assert Payee.objects.get(pk=payee.pk).balance == Decimal("2500.00")
    assert AuditEntry.objects.get(action="ledger.credit", details__reference="bonus").actor == finance  # the uploader, not "system:import"
    big = api(finance).post("/api/v1/payouts/", {"payee": payee.pk, "amount": "1500.00"}, format="json")
    assert big.status_code == 201 and big.json()["state"] == "requested"
    assert api(finance).post(f"/api/v1/payouts/{big.json()['id']}/approve/").status_code == 403  # four eyes
    assert api(approver).post(f"/api/v1/payouts/{big.json()['id']}/approve/").json()["state"] == "approved"


def test_the_approval_threshold_applies_to_a_payees_total_over_the_window(bank, settings):
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("100.00")
    settings.PAYOUT_APPROVAL_WINDOW = 3600
    payee = bank["payee"]
    states = [payouts.payout_request(payee.pk, "40.00").state for _ in range(3)]
    assert states == ["approved", "approved", "requested"]  # 40 + 40 + 40 > 100: the third waits for a person
    Payout.objects.filter(state="requested").update(state="cancelled")
    payouts._adjust(payee.pk, held=Decimal("-40.00"))
    Payout.objects.filter(state="approved").update(created_at=timezone.now() - timedelta(hours=2))  # outside the window
    assert payouts.payout_request(payee.pk, "90.00").state == "approved"
    # what a person approved does not count towards what may go without one
    Payout.objects.filter(payee=payee).update(approved_by=bank["ops"])
    assert payouts.payout_request(payee.pk, "90.00").state == "approved"


def test_a_payout_run_counts_the_window_too(bank, settings):
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("600.00")
    payouts.payout_request(bank["payee"].pk, "300.00")  # approved: 300 of the 600 used
    payouts.ledger_credit(bank["payee"].pk, "400.00", reference="more")
    Payout.objects.update(state="paid")
    payouts._adjust(bank["payee"].pk, balance=Decimal("-300.00"), held=Decimal("-300.00"))
    plan = payouts.payout_run(payee_ids=[bank["payee"].pk])
    assert [p["amount"] for p in plan.payouts] == ["600.00"]
    assert Payout.objects.get(run=plan.run).state == "requested"  # 300 + 600 > 600
