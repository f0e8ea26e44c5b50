"""What every payouts service shares: the state machine's move, amounts and currencies, and the balance/hold arithmetic."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from jobs.core import inputs
from jobs.core.errors import FieldError
from jobs.core.states import IllegalTransition
from payouts.errors import PayoutError
from payouts.models import Payee, Payout
from payouts.services import locks

S = Payout.State
# Holding the payee's money: not yet paid, failed or called off.
IN_FLIGHT = (S.REQUESTED, S.APPROVED, S.PROCESSING, S.SENT)
CENT = Decimal("0.01")

TRANSITIONS = Payout.STATES.table  # the payout state machine (payouts.models.Payout.STATES)


def _move(payout: Payout, target: str, **fields) -> None:
    """Move a (locked) payout through the state machine, compare-and-set on its current state."""
    fields["updated_at"] = timezone.now()
    try:
        moved = Payout.STATES.move(Payout.objects.filter(pk=payout.pk), {payout.state}, target, **fields)
    except IllegalTransition:
        raise PayoutError("state", f"a {payout.state} payout cannot become {target}") from None
    if not moved:
        raise PayoutError("state", f"payout {payout.pk} changed meanwhile; reload it and try again")
    payout.state = target
    for name, value in fields.items():
        setattr(payout, name, value)


def _amount(value, name: str = "amount") -> Decimal:
    """A positive amount with at most two decimals and 16 digits before the point, from a
    Decimal, an int or a string of ASCII digits (jobs.core.inputs.parse_decimal)."""
    try:
        amount = inputs.parse_decimal(value, name, integer_digits=16, places=2)
    except FieldError as exc:
        raise PayoutError(exc.field, exc.message) from None
    if amount <= 0:
        raise PayoutError(name, "must be greater than zero")
    return amount


def _currency(payee: Payee, currency) -> str:
    if currency in (None, ""):
        return payee.currency
    if not isinstance(currency, str) or currency.upper() != payee.currency:
        raise PayoutError("currency", f"this payee's account is in {payee.currency}, not {currency}")
    return payee.currency


def _adjust(payee_id, *, balance: Decimal = Decimal("0"), held: Decimal = Decimal("0")) -> None:
    """Change a payee's balance and hold by these amounts, under its row lock. The sums are done
    here in Decimal, not in SQL: SQLite computes NUMERIC columns in floating point, where
    0.03 - 0.02 - 0.01 is below zero. The database's CHECK constraints still guard the result."""
    payee = locks.payee_balance(payee_id)
    Payee.objects.filter(pk=payee_id).update(balance=payee.balance + balance, held=payee.held + held)


def _release(payout: Payout) -> None:
    _adjust(payout.payee_id, held=-payout.amount)
