"""Where a payee's money goes, checked on entry (payouts.destinations): IBANs and BICs by
schwifty, US accounts by their ABA routing number, stored encrypted, refused with the field."""

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEntry
from payouts import services
from payouts.destinations import check_destination
from payouts.errors import PayoutError
from payouts.models import Payee

pytestmark = pytest.mark.django_db


def test_an_iban_is_normalised_and_its_bic_found():
    d = check_destination("bank", "de89 3704 0044 0532 0130 00", beneficiary_name="  Ann   Lee ")
    assert (d.account, d.scheme, d.bic, d.beneficiary_name) == ("DE89370400440532013000", "iban", "COBADEFFXXX", "Ann Lee")


def test_a_bic_given_with_an_iban_is_checked_and_kept():
    assert check_destination("bank", "DE89370400440532013000", bic="cobadeffxxx").bic == "COBADEFFXXX"


def test_a_us_account_with_its_routing_number():
    d = check_destination("bank", "000123456789", routing_number="021000021", beneficiary_name="Bob")
    assert (d.account, d.scheme, d.routing_number, d.bic) == ("000123456789", "us_aba", "021000021", "")


@pytest.mark.parametrize(
    "method, account, extra, field, message",
    [
        ("bank", "DE89370400440532013001", {}, "account", "not a valid IBAN: invalid checksum digits"),
        ("bank", "DE8937040044053201300", {}, "account", "not a valid IBAN"),  # a digit short for Germany
        ("bank", "DE89370400440532013000", {"bic": "BUKBGB22"}, "bic", "is a bank in GB, the IBAN's is in DE"),
        ("bank", "DE89370400440532013000", {"bic": "NOTABIC"}, "bic", "is not a valid BIC"),
        ("bank", "000123456789", {"routing_number": "021000022"}, "routing_number", "check digit"),
        ("bank", "12AB", {"routing_number": "021000021"}, "account", "4 to 17 digits"),
        ("bank", "12345678", {"bic": "COBADEFF"}, "bic", "give a BIC with an IBAN"),
        ("bank", "", {}, "account", "is required"),
        ("bank", "DE89370400440532013000", {"beneficiary_name": "x" * 71}, "beneficiary_name", "at most 70"),
        ("wallet", "w-1234", {"routing_number": "021000021"}, "routing_number", "bank accounts only"),
        ("wallet", "abc", {}, "account", "4 to 64 characters"),
    ],
)
def test_bad_details_are_refused_naming_the_field(method, account, extra, field, message):
    with pytest.raises(PayoutError) as info:
        check_destination(method, account, **extra)
    assert info.value.field == field and message in info.value.message


def test_a_payee_keeps_its_details_encrypted_and_the_audit_trail_masked():
    user = get_user_model().objects.create_user("ann", "ann@example.com", "pw", first_name="Ann", last_name="Lee")
    payee = services.payee_create(user, currency="USD", account="000123456789", routing_number="021000021")
    payee.refresh_from_db()
    raw = Payee.objects.values_list("method_secret", flat=True).get(pk=payee.pk)
    assert "123456789" not in raw and payee.account() == "000123456789"
    assert (payee.account_scheme, payee.routing_number, payee.beneficiary_name) == ("us_aba", "021000021", "Ann Lee")
    assert payee.destination == "US account ••••6789"
    services.payee_set_account(payee.pk, "000987654321", routing_number="011000015", actor=None)
    payee.refresh_from_db()
    assert (payee.account(), payee.routing_number, payee.beneficiary_name) == ("000987654321", "011000015", "Ann Lee")
    assert "987654321" not in str(AuditEntry.objects.filter(object_type="payee").values_list("details", flat=True))


def test_a_refused_change_changes_nothing():
    user = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    payee = services.payee_create(user, currency="EUR", account="DE89370400440532013000")
    with pytest.raises(PayoutError):
        services.payee_set_account(payee.pk, "DE89370400440532013001", actor=None)
    payee.refresh_from_db()
    assert payee.account() == "DE89370400440532013000" and payee.bic == "COBADEFFXXX"


def test_the_admin_refuses_a_bad_iban_on_its_field(client, django_user_model):
    staff = django_user_model.objects.create_superuser("ops", "o@example.com", "pw")
    client.force_login(staff)
    user = django_user_model.objects.create_user("cara", "c@example.com", "pw")
    page = client.post(
        "/admin/payouts/payee/add/",
        {
            "user": user.pk,
            "currency": "EUR",
            "method": "bank",
            "account_number": "DE89370400440532013001",
            "threshold": "10.00",
            "active": "on",
        },
    )
    assert page.status_code == 200 and "not a valid IBAN" in page.content.decode()
    assert not Payee.objects.exists()
    page = client.post(
        "/admin/payouts/payee/add/",
        {
            "user": user.pk,
            "currency": "EUR",
            "method": "bank",
            "beneficiary_name": "Cara Diaz",
            "account_number": "DE89370400440532013000",
            "threshold": "10.00",
            "active": "on",
        },
    )
    assert page.status_code == 302
    payee = Payee.objects.get()
    assert (payee.account_scheme, payee.bic, payee.beneficiary_name) == ("iban", "COBADEFFXXX", "Cara Diaz")
