"""Large payouts wait for approval and expire; staff cancel and retry."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from payouts import services
from payouts.models import Payout
from payouts.services import PayoutError
from tests.payouts.conftest import transfers

pytestmark = pytest.mark.django_db(transaction=True)
P = Payout.State


@pytest.fixture
def big(make_payee, settings, django_user_model):
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("500")
    payee = make_payee(balance="2000.00")
    return services.payout_request(payee.pk, "1200.00")


def test_a_large_payout_waits_with_an_expiry_job(big, settings):
    assert big.state == P.REQUESTED
    job = JobRecord.objects.get(task_name="payouts.expire")
    assert job.state == State.SCHEDULED and job.queue == "payout_expiry"
    assert abs((job.run_at - timezone.now()).total_seconds() - settings.PAYOUT_APPROVAL_TTL) < 5
    big.payee.refresh_from_db()
    assert big.payee.held == Decimal("1200.00")


def test_approval_sends_it_and_the_expiry_then_does_nothing(big, drain, django_user_model):
    staff = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    services.payout_approve(big.pk, actor=staff, reason="checked the invoice")
    drain()
    big.refresh_from_db()
    assert big.state == P.PAID and big.approved_by == staff and transfers(big) == 1
    assert services.payout_expire(big.pk) == P.PAID
    assert AuditEntry.objects.filter(action="payout.approve", actor=staff, reason="checked the invoice").exists()


def test_an_unapproved_request_expires_and_releases_its_hold(big):
    assert services.payout_expire(big.pk) == "not yet due"
    Payout.objects.filter(pk=big.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.payout_expire(big.pk) == P.EXPIRED
    big.payee.refresh_from_db()
    assert big.payee.held == Decimal("0") and big.payee.balance == Decimal("2000.00")
    with pytest.raises(PayoutError) as info:
        services.payout_approve(big.pk, actor=None)
    assert info.value.field == "state"


def test_cancel_releases_the_hold_and_the_queued_job_then_does_nothing(make_payee, drain):
    payout = services.payout_request(make_payee().pk, "10")
    services.payout_cancel(payout.pk, actor=None, reason="customer asked")
    drain()
    payout.refresh_from_db()
    payout.payee.refresh_from_db()
    assert payout.state == P.CANCELLED and payout.payee.held == Decimal("0") and transfers(payout) == 0


def test_a_processing_payout_cannot_be_cancelled(make_payee):
    payout = services.payout_request(make_payee().pk, "10")
    Payout.objects.filter(pk=payout.pk).update(state=P.PROCESSING)
    with pytest.raises(PayoutError) as info:
        services.payout_cancel(payout.pk, actor=None)
    assert info.value.field == "state"


def test_retry_of_a_failed_payout_holds_again_and_pays(make_payee, drain, script, settings):
    settings.PAYOUT_FALLBACK_AFTER = 99
    script("sandbox", *["error"] * 4)
    payout = services.payout_request(make_payee().pk, "10")
    drain()
    payout.refresh_from_db()
    assert payout.state == P.FAILED
    services.payout_retry(payout.pk, actor=None, reason="provider is back")
    payout.payee.refresh_from_db()
    assert payout.payee.held == Decimal("10")
    drain()
    payout.refresh_from_db()
    assert payout.state == P.PAID and transfers(payout) == 1


@pytest.mark.parametrize("service", [services.payout_approve, services.payout_retry, services.payout_cancel, services.payout_process_now])
def test_actions_on_unknown_payouts_name_the_field(service):
    with pytest.raises(PayoutError) as info:
        service(424242, actor=None)
    assert info.value.field == "payout"
