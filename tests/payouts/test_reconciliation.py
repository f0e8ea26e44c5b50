"""Reconciliation finds every kind of mismatch; recovery finishes payouts left without a job."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobRecord
from payouts import reconciliation, services
from payouts.models import Payee, Payout, PayoutRun, ReconciliationReport, SandboxTransfer
from payouts.providers import get_provider

pytestmark = pytest.mark.django_db(transaction=True)
P = Payout.State


@pytest.fixture
def paid(make_payee, drain):
    payouts = [services.payout_request(make_payee().pk, "10") for _ in range(3)]
    drain()
    return payouts


def kinds(report):
    return sorted(m["kind"] for m in report.mismatches)


def test_agreeing_books_give_an_empty_report(paid):
    report = reconciliation.reconcile()
    assert report.mismatch_count == 0 and report.checked_payouts == 3 and report.checked_transfers == 3


def test_each_kind_of_mismatch_is_flagged(paid, make_payee):
    a, b, c = paid
    SandboxTransfer.objects.filter(idempotency_key=str(a.idempotency_key)).delete()  # missing
    SandboxTransfer.objects.filter(idempotency_key=str(b.idempotency_key)).update(amount=Decimal("11"))  # wrong amount
    SandboxTransfer.objects.create(
        provider="sandbox_backup", idempotency_key=str(c.idempotency_key), amount=10, currency="EUR", destination="x", reference="dup-1"
    )  # duplicated
    SandboxTransfer.objects.create(provider="sandbox", idempotency_key="stray", amount=5, currency="EUR", destination="x", reference="s-1")
    failed = services.payout_request(make_payee().pk, "7")
    Payout.objects.filter(pk=failed.pk).update(state=P.FAILED)
    Payee.objects.filter(pk=failed.payee_id).update(held=0)
    SandboxTransfer.objects.create(
        provider="sandbox", idempotency_key=str(failed.idempotency_key), amount=7, currency="EUR", destination="x", reference="u-1"
    )  # unrecorded
    Payee.objects.filter(pk=c.payee_id).update(balance=Decimal("95"))  # ledger mismatch
    report = reconciliation.reconcile()
    assert kinds(report) == [
        "duplicated_transfer",
        "ledger_mismatch",
        "missing_transfer",
        "unknown_transfer",
        "unrecorded_transfer",
        "wrong_amount",
    ]
    with pytest.raises(SystemExit):
        call_command("reconcile_payouts")
    assert ReconciliationReport.objects.count() == 2


def test_recovery_resends_approved_payouts_and_settles_processing_ones(make_payee, drain):
    lost = services.payout_request(make_payee().pk, "10")
    moved = services.payout_request(make_payee().pk, "10")
    JobRecord.objects.filter(task_name="payouts.process").update(state=State.CANCELLED)  # their jobs are gone
    Payout.objects.filter(pk=moved.pk).update(state=P.PROCESSING, provider="sandbox")
    payee = moved.payee
    get_provider("sandbox").transfer(str(moved.idempotency_key), moved.amount, "EUR", payee.account(), payee.destination)
    assert reconciliation.recover_stuck(older_than=dt.timedelta(minutes=10)) == {
        "resent": 0,
        "settled": 0,
        "expired": 0,
        "runs_finished": 0,
    }
    assert reconciliation.recover_stuck(older_than=dt.timedelta(0)) == {"resent": 1, "settled": 1, "expired": 0, "runs_finished": 0}
    drain()
    lost.refresh_from_db()
    moved.refresh_from_db()
    assert lost.state == P.PAID and moved.state == P.PAID
    assert SandboxTransfer.objects.count() == 2


def test_recovery_leaves_payouts_whose_job_is_still_active(make_payee):
    waiting = services.payout_request(make_payee().pk, "10")  # its job is queued, not yet run
    assert JobRecord.objects.filter(subject_type="payout", subject_id=str(waiting.pk), state=State.QUEUED).exists()
    assert reconciliation.recover_stuck(older_than=dt.timedelta(0)) == {"resent": 0, "settled": 0, "expired": 0, "runs_finished": 0}
    assert JobRecord.objects.filter(task_name="payouts.process").count() == 1


def test_recovery_expires_requested_payouts_whose_expiry_job_died(make_payee, settings):
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("5")
    overdue = services.payout_request(make_payee().pk, "10")
    waiting = services.payout_request(make_payee().pk, "10")
    assert {overdue.state, waiting.state} == {P.REQUESTED}
    JobRecord.objects.filter(task_name="payouts.expire", subject_id=str(overdue.pk)).update(state=State.DEAD)
    Payout.objects.filter(pk__in=[overdue.pk, waiting.pk]).update(expires_at=timezone.now() - dt.timedelta(minutes=11))
    assert reconciliation.recover_stuck()["expired"] == 1  # the other one's expiry job is still queued
    overdue.refresh_from_db()
    waiting.refresh_from_db()
    assert overdue.state == P.EXPIRED and waiting.state == P.REQUESTED
    assert Payee.objects.get(pk=overdue.payee_id).held == 0


def test_the_admin_runs_a_reconciliation_without_a_selection(client, django_user_model, paid):
    client.force_login(django_user_model.objects.create_superuser("ops", "o@example.com", "pw"))
    response = client.post(reverse("admin:payouts_reconciliationreport_changelist"), {"action": "run_reconciliation"}, follow=True)
    assert b"Reconciliation done: 0 mismatch(es) in 3 payouts" in response.content
    report = ReconciliationReport.objects.get()
    assert client.get(reverse("admin:payouts_reconciliationreport_change", args=[report.pk])).status_code == 200


def test_a_run_is_marked_finished_once_its_payouts_have_ended(make_payee, drain):
    make_payee(balance="50.00")
    plan = services.payout_run(run_key="r1")
    assert reconciliation.finish_runs() == 0
    drain()
    assert reconciliation.finish_runs() == 1
    run = PayoutRun.objects.get(pk=plan.run.pk)
    assert run.status == PayoutRun.Status.FINISHED and run.finished_at is not None


def test_settling_never_asks_a_nameless_or_removed_provider(make_payee, settings):
    """A processing payout whose provider is blank settles with the primary; one whose provider
    was removed from the settings stays processing (logged), and the run carries on."""
    blank = services.payout_request(make_payee().pk, "10")
    removed = services.payout_request(make_payee().pk, "10")
    JobRecord.objects.filter(task_name="payouts.process").update(state=State.CANCELLED)
    Payout.objects.filter(pk=blank.pk).update(state=P.PROCESSING, provider="")
    Payout.objects.filter(pk=removed.pk).update(state=P.PROCESSING, provider="retired_bank")
    settings.PAYOUT_PRIMARY_PROVIDER = "sandbox"
    assert reconciliation.recover_stuck(older_than=dt.timedelta(0))["settled"] == 2
    assert Payout.objects.get(pk=blank.pk).state == P.FAILED  # no transfer at the primary: failed, hold released
    assert Payout.objects.get(pk=removed.pk).state == P.PROCESSING
