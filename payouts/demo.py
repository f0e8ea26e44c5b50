"""Demo payees and payouts for `make run` (called by ``manage.py seed_demo``, never in production)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from payouts import services
from payouts.models import Payee, RecurringPayout


def seed(stdout) -> None:
    """Three payees with balances and payouts in different states, once (nothing if any payee exists)."""
    if Payee.objects.exists():
        return
    User = get_user_model()
    accounts = {"alice": "DE89370400440532013000", "bob": "GB33BUKB20201555555555", "carol": "0000111122223333"}
    payees = {}
    for name, account in accounts.items():
        user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
        payees[name] = services.payee_create(user, currency="EUR", account=account, actor="system:seed_demo")
        services.ledger_credit(payees[name].pk, "2500.00", memo="demo opening balance", actor="system:seed_demo")
    services.payout_request(payees["alice"].pk, "120.00", actor="system:seed_demo", reason="demo")
    services.payout_request(payees["bob"].pk, "1500.00", actor="system:seed_demo", reason="demo: above the approval threshold")
    services.payout_request(payees["carol"].pk, "50.00", actor="system:seed_demo", reason="demo: this bank declines")
    services.recurring_save(RecurringPayout(payee=payees["alice"], amount=Decimal("25.00"), cron="0 9 * * 1"))
    stdout.write("created demo payees alice, bob and carol with payouts (one awaiting approval, one declined)")
