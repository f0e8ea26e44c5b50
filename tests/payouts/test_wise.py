"""Payouts through Wise (payouts.wise) against a local simulator of its API
(tests/payouts/wise_simulator.py): the money is final only when Wise says so, by a signed webhook
or the settlement check; the ledger follows each outcome once; returns are credited back;
idempotency keys make retries safe; reconciliation reads Wise's list over a window."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client

from payouts import providers, services
from payouts.models import LedgerEntry, Payout
from payouts.reconciliation import ledger_mismatches, reconcile
from tests.payouts.wise_simulator import BAD_IBAN, WiseSimulator

pytestmark = pytest.mark.django_db(transaction=True)
P = Payout.State
TOKEN, PROFILE = "wise-test-token", 101


@pytest.fixture
def wise(settings):
    with WiseSimulator(TOKEN, PROFILE) as simulator:
        settings.PAYOUT_PROVIDERS = {**settings.PAYOUT_PROVIDERS, "wise": "payouts.wise.WiseProvider"}
        settings.PAYOUT_PRIMARY_PROVIDER = "wise"
        settings.WISE_API_TOKEN, settings.WISE_PROFILE_ID, settings.WISE_API_BASE_URL = TOKEN, str(PROFILE), simulator.url
        settings.WISE_WEBHOOK_PUBLIC_KEY = simulator.public_key_pem
        providers.get_provider.cache_clear()
        yield simulator
    providers.get_provider.cache_clear()


def notify_wise(transfer_id, wise, *, signature=None):
    body, signed = wise.event(transfer_id)
    return Client().post("/webhooks/payouts/wise/", body, content_type="application/json", HTTP_X_SIGNATURE_SHA256=signature or signed)


def sent_payout(make_payee, drain, wise, amount="40.00", **payee):
    payout = services.payout_request(make_payee(balance="100.00", **payee).pk, amount)
    drain()
    payout.refresh_from_db()
    return payout


def money(payout):
    payout.payee.refresh_from_db()
    return payout.payee.balance, payout.payee.held


def test_a_payout_is_sent_with_the_payees_details_and_its_idempotency_key(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    assert (payout.state, payout.provider) == (P.SENT, "wise") and payout.sent_at is not None
    (transfer,) = wise.transfers.values()
    assert transfer["customerTransactionId"] == str(payout.idempotency_key) and transfer["status"] == "processing"
    assert payout.provider_reference == str(transfer["id"]) and transfer["reference"] == f"Payout {payout.pk}"
    account = wise.accounts[transfer["targetAccount"]]
    assert account["type"] == "iban" and account["details"] == {
        "legalType": "PRIVATE",
        "IBAN": "DE89370400440532013000",
        "BIC": "COBADEFFXXX",
    }
    assert account["accountHolderName"]
    # Not final yet: held, nothing debited, nobody told.
    assert money(payout) == (Decimal("100.00"), Decimal("40.00")) and not LedgerEntry.objects.filter(kind="debit").exists()
    assert len(mail.outbox) == 0


def test_the_signed_webhook_settles_it_once(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    transfer_id = int(payout.provider_reference)
    wise.advance(transfer_id, "outgoing_payment_sent")
    for _ in range(2):  # Wise may send an event more than once
        answer = notify_wise(transfer_id, wise)
        assert answer.status_code == 200 and answer.json() == {"applied": {str(transfer_id): "paid"}}
    payout.refresh_from_db()
    assert payout.state == P.PAID and payout.paid_at is not None
    assert money(payout) == (Decimal("60.00"), Decimal("0.00"))
    assert LedgerEntry.objects.filter(payout=payout, kind="debit").count() == 1
    drain()  # the notice's job
    assert len(mail.outbox) == 1 and "was paid" in mail.outbox[0].subject
    assert ledger_mismatches() == []


def test_a_late_event_does_not_move_it_back(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    transfer_id = int(payout.provider_reference)
    early_body, early_signature = wise.event(transfer_id)  # "processing", delivered late
    wise.advance(transfer_id, "outgoing_payment_sent")
    notify_wise(transfer_id, wise)
    late = Client().post("/webhooks/payouts/wise/", early_body, content_type="application/json", HTTP_X_SIGNATURE_SHA256=early_signature)
    assert late.status_code == 200
    payout.refresh_from_db()
    assert payout.state == P.PAID  # the transfer is read from Wise: what holds now


@pytest.mark.parametrize("forged", ["another key", "garbage", ""])
def test_an_unsigned_or_forged_webhook_changes_nothing(make_payee, drain, wise, forged):
    payout = sent_payout(make_payee, drain, wise)
    transfer_id = int(payout.provider_reference)
    wise.advance(transfer_id, "outgoing_payment_sent")
    if forged == "another key":
        signature = wise.event(transfer_id, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))[1]
    else:
        signature = forged or "none"
    assert notify_wise(transfer_id, wise, signature=signature).status_code == 403
    payout.refresh_from_db()
    assert payout.state == P.SENT


def test_webhooks_are_refused_without_wises_key_and_the_settlement_check_finds_the_outcome(make_payee, drain, wise, settings):
    payout = sent_payout(make_payee, drain, wise)
    transfer_id = int(payout.provider_reference)
    wise.advance(transfer_id, "outgoing_payment_sent")
    settings.WISE_WEBHOOK_PUBLIC_KEY = ""
    assert notify_wise(transfer_id, wise).status_code == 403
    assert services.check_sent(older_than_seconds=0) == {"paid": 1}
    payout.refresh_from_db()
    assert payout.state == P.PAID and LedgerEntry.objects.filter(payout=payout).count() == 1
    assert services.check_sent(older_than_seconds=0) == {}


@pytest.mark.parametrize("state", ["cancelled", "funds_refunded", "bounced_back"])
def test_a_transfer_that_fails_before_it_is_paid_releases_the_hold(make_payee, drain, wise, state):
    payout = sent_payout(make_payee, drain, wise)
    wise.advance(int(payout.provider_reference), state)
    notify_wise(int(payout.provider_reference), wise)
    payout.refresh_from_db()
    assert payout.state == P.FAILED and state in payout.failure_reason
    assert money(payout) == (Decimal("100.00"), Decimal("0.00")) and not LedgerEntry.objects.filter(kind="debit").exists()


def test_money_the_bank_returns_after_payment_is_credited_back_once(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    transfer_id = int(payout.provider_reference)
    wise.advance(transfer_id, "outgoing_payment_sent")
    notify_wise(transfer_id, wise)
    wise.advance(transfer_id, "bounced_back")
    for _ in range(2):
        notify_wise(transfer_id, wise)
    services.check_sent(older_than_seconds=0)
    payout.refresh_from_db()
    assert payout.state == P.RETURNED and payout.returned_at is not None
    assert money(payout) == (Decimal("100.00"), Decimal("0.00"))
    credits = LedgerEntry.objects.filter(payee=payout.payee, kind="credit", reference=f"payout {payout.pk} returned")
    assert credits.count() == 1 and credits.get().amount == Decimal("40.00")
    assert ledger_mismatches() == []
    drain()
    assert [m.subject for m in mail.outbox] == ["Your payout of 40.00 EUR was paid", "Your payout of 40.00 EUR came back"]


def test_an_answer_lost_after_the_transfer_was_made_is_retried_into_the_same_transfer(make_payee, drain, wise):
    wise.faults.append(("POST", "/v1/transfers", "drop"))
    payout = sent_payout(make_payee, drain, wise)
    assert payout.state == P.SENT and len(wise.transfers) == 1
    assert sum(1 for method, path, _ in wise.requests if (method, path) == ("POST", "/v1/transfers")) == 2


def test_a_lost_funding_answer_is_retried_without_paying_twice(make_payee, drain, wise):
    wise.faults.append(("POST", f"/v3/profiles/{PROFILE}/transfers/", "drop"))
    payout = sent_payout(make_payee, drain, wise)
    assert payout.state == P.SENT and len(wise.transfers) == 1 and wise.balance == 1_000_000 - 40


def test_an_empty_balance_is_retried_until_it_is_topped_up(make_payee, run_worker, drain, wise):
    wise.balance = 10
    payout = services.payout_request(make_payee(balance="100.00").pk, "40.00")
    run_worker()
    payout.refresh_from_db()
    assert payout.state == P.PROCESSING and "insufficient_funds" in payout.failure_reason
    wise.balance = 1000
    drain()
    payout.refresh_from_db()
    assert payout.state == P.SENT and len(wise.transfers) == 1


def test_a_5xx_is_retried(make_payee, drain, wise):
    wise.faults.append(("POST", f"/v3/profiles/{PROFILE}/quotes", 503))
    payout = sent_payout(make_payee, drain, wise)
    assert payout.state == P.SENT and payout.provider == "wise"


def test_details_wise_refuses_fail_the_payout_with_its_message(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise, account=BAD_IBAN)
    assert payout.state == P.FAILED and "IBAN is not accepted" in payout.failure_reason
    assert money(payout) == (Decimal("100.00"), Decimal("0.00")) and not wise.transfers


def test_a_payee_without_a_scheme_is_refused_before_any_call(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise, account="12345678")
    assert payout.state == P.FAILED and "enter them again" in payout.failure_reason
    assert not wise.transfers


def test_reconciliation_reads_wises_list_for_the_window_only(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    wise.advance(int(payout.provider_reference), "outgoing_payment_sent")
    notify_wise(int(payout.provider_reference), wise)
    stray = wise.add_transfer(key="not-ours", amount=5, created=datetime.now(UTC) - timedelta(hours=1))
    wise.add_transfer(key="ancient", amount=7, created=datetime.now(UTC) - timedelta(days=30))
    report = reconcile(window=timedelta(days=7))
    kinds = [(m["kind"], m.get("detail", "")) for m in report.mismatches]
    assert kinds == [("unknown_transfer", f"transfer {stray} under key not-ours matches no payout")]
    (listing,) = [query for method, path, query in wise.requests if (method, path) == ("GET", "/v1/transfers")]
    start = datetime.strptime(listing["createdDateStart"][0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(days=6, hours=23) < datetime.now(UTC) - start < timedelta(days=7, minutes=1)


def test_a_sent_payout_whose_transfer_wise_does_not_list_is_a_mismatch(make_payee, drain, wise):
    payout = sent_payout(make_payee, drain, wise)
    wise.transfers.clear()
    report = reconcile(window=timedelta(days=1))
    assert [(m["kind"], m["payout"]) for m in report.mismatches] == [("missing_transfer", payout.pk)]


def _staff(django_user_model, name, *perms):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="payouts", codename__in=perms))
    return user


def test_staff_with_run_payouts_ask_the_provider_from_the_admin(make_payee, drain, wise, django_user_model):
    payout = sent_payout(make_payee, drain, wise)
    wise.advance(int(payout.provider_reference), "outgoing_payment_sent")
    action = {"action": "check_settlement", "_selected_action": [payout.pk]}
    viewer = Client()
    viewer.force_login(_staff(django_user_model, "viewer", "view_payout"))
    viewer.post("/admin/payouts/payout/", action)
    payout.refresh_from_db()
    assert payout.state == P.SENT  # staff without payouts.run_payouts: the action is not theirs
    operator = Client()
    operator.force_login(_staff(django_user_model, "operator", "view_payout", "run_payouts"))
    assert operator.post("/admin/payouts/payout/", action).status_code == 302
    payout.refresh_from_db()
    assert payout.state == P.PAID
    page = operator.get(f"/admin/payouts/payout/{payout.pk}/change/").content.decode()
    assert "Sent at" in page and "Returned at" in page
