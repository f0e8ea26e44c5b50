"""Reads for the payouts screens and API: who sees which payouts."""

from __future__ import annotations

from access import rules
from payouts.models import Payee, Payout


def visible_payouts(user):
    """Every payout for holders of payouts.view_payout; everyone else their own payee account's."""
    payouts = Payout.objects.all()
    return payouts if rules.sees_all_payouts(user) else payouts.filter(payee__user=user)


def owns_payee(user, payee_id) -> bool:
    return Payee.objects.filter(pk=payee_id, user=user).exists()
