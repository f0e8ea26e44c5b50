"""Payees, credits and payout requests: the checks that keep money consistent, and bad input."""

from decimal import Decimal

import pytest
from django.db import IntegrityError
from django.db.models import F

from audit.models import AuditEntry
from payouts import services
from payouts.models import LedgerEntry, Payee, Payout
from payouts.services import PayoutError

pytestmark = pytest.mark.django_db(transaction=True)


def test_credit_adds_to_the_balance_with_a_ledger_entry_and_an_audit(make_payee):
    payee = make_payee(balance="0")
    services.ledger_credit(payee.pk, "25.50", memo="sale 1", reference="sale-1")
    services.ledger_credit(payee.pk, Decimal("4.50"), currency="eur")
    payee.refresh_from_db()
    assert payee.balance == Decimal("30.00") and payee.available == Decimal("30.00")
    assert LedgerEntry.objects.filter(payee=payee, kind="credit").count() == 2
    assert AuditEntry.objects.filter(action="ledger.credit", object_id=str(payee.pk)).count() == 2


def test_a_credit_reference_counts_once(make_payee):
    payee = make_payee(balance="0")
    services.ledger_credit(payee.pk, "10", reference="import-7")
    with pytest.raises(PayoutError) as info:
        services.ledger_credit(payee.pk, "10", reference="import-7")
    assert info.value.field == "reference"
    payee.refresh_from_db()
    assert payee.balance == Decimal("10")


def test_account_numbers_are_encrypted_and_shown_masked(make_payee):
    payee = make_payee(account="GB33BUKB20201555555555")
    raw = Payee.objects.values_list("method_secret", flat=True).get(pk=payee.pk)
    assert "20201555555555" not in raw and payee.account() == "GB33BUKB20201555555555"
    assert payee.destination == "IBAN ••••5555" and payee.account_scheme == "iban" and payee.bic == "BUKBGB22"
    assert "20201555555555" not in str(AuditEntry.objects.filter(object_type="payee").values_list("details", flat=True))


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda p: services.payout_request(p.pk, "0"), "amount"),
        (lambda p: services.payout_request(p.pk, "-5"), "amount"),
        (lambda p: services.payout_request(p.pk, "1.001"), "amount"),
        (lambda p: services.payout_request(p.pk, "ten"), "amount"),
        (lambda p: services.payout_request(p.pk, "NaN"), "amount"),
        (lambda p: services.payout_request(p.pk, "100.01"), "amount"),  # above the balance
        (lambda p: services.payout_request(p.pk, "5", currency="USD"), "currency"),
        (lambda p: services.payout_request(999_999, "5"), "payee"),
        (lambda p: services.payout_request("abc", "5"), "payee"),
        (lambda p: services.ledger_credit(p.pk, "-1"), "amount"),
        (lambda p: services.ledger_credit(p.pk, "1", currency="GBP"), "currency"),
        (lambda p: services.ledger_credit(12345678, "1"), "payee"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(make_payee, call, field):
    payee = make_payee(balance="100.00")
    entries = LedgerEntry.objects.count()
    with pytest.raises(PayoutError) as info:
        call(payee)
    assert info.value.field == field
    payee.refresh_from_db()
    assert (payee.balance, payee.held) == (Decimal("100.00"), Decimal("0"))
    assert Payout.objects.count() == 0 and LedgerEntry.objects.count() == entries


def test_holds_stop_a_second_payout_from_overdrawing(make_payee):
    payee = make_payee(balance="100.00")
    services.payout_request(payee.pk, "60")
    with pytest.raises(PayoutError) as info:
        services.payout_request(payee.pk, "60")
    assert info.value.field == "amount" and "available balance of 40.00" in info.value.message
    payee.refresh_from_db()
    assert (payee.balance, payee.held) == (Decimal("100.00"), Decimal("60"))


def test_the_database_refuses_a_negative_balance_even_if_code_tried(make_payee):
    payee = make_payee(balance="10.00")
    with pytest.raises(IntegrityError):
        Payee.objects.filter(pk=payee.pk).update(balance=F("balance") - 11)


def test_inactive_payees_cannot_be_paid(make_payee):
    payee = make_payee()
    Payee.objects.filter(pk=payee.pk).update(active=False)
    with pytest.raises(PayoutError) as info:
        services.payout_request(payee.pk, "5")
    assert info.value.field == "payee"


def test_the_state_machine_allows_only_its_moves(make_payee):
    P = Payout.State
    assert services.TRANSITIONS[P.RETURNED] == services.TRANSITIONS[P.CANCELLED] == services.TRANSITIONS[P.EXPIRED] == set()
    assert services.TRANSITIONS[P.PAID] == {P.RETURNED}  # only the bank sending it back
    assert services.TRANSITIONS[P.SENT] == {P.PAID, P.FAILED}  # only the provider's word
    assert P.CANCELLED not in services.TRANSITIONS[P.PROCESSING]  # the provider may be moving the money
    assert set(services.TRANSITIONS) == set(P.values)
    payout = services.payout_request(make_payee().pk, "5")
    for target in set(P.values) - services.TRANSITIONS[P.APPROVED]:
        with pytest.raises(PayoutError):
            services._move(payout, target)
        assert Payout.objects.get(pk=payout.pk).state == P.APPROVED
