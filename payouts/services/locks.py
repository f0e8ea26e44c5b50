"""Row locks for payouts, taken in one order everywhere, so two transactions cannot deadlock:

    recurring instruction  ->  payout  ->  payee(s), several payees by id

(the rule Saleor's ``lock_objects.py`` keeps for checkouts and orders). A service takes every
lock through these functions; a new one that needs two kinds of row takes them in this order.
New payouts lock only the payee.
"""

from __future__ import annotations

from jobs.core import inputs
from jobs.core.errors import FieldError
from payouts.errors import PayoutError
from payouts.models import Payee, Payout, RecurringPayout


def due_instruction(instruction_id, now):
    """A standing instruction still enabled and due, or None if another scheduler holds it (SKIP LOCKED)."""
    return RecurringPayout.objects.select_for_update(skip_locked=True).filter(pk=instruction_id, enabled=True, next_run_at__lte=now).first()


def payout(payout_id) -> Payout:
    try:
        return Payout.objects.select_for_update().get(pk=inputs.parse_id(payout_id, "payout"))
    except (Payout.DoesNotExist, FieldError):
        raise PayoutError("payout", f"no payout with id {payout_id!r}") from None


def payout_or_none(payout_id) -> Payout | None:
    return Payout.objects.select_for_update().filter(pk=payout_id).first()


def payee(payee_id) -> Payee:
    try:
        return Payee.objects.select_for_update().get(pk=inputs.parse_id(payee_id, "payee"))
    except (Payee.DoesNotExist, FieldError):
        raise PayoutError("payee", f"no payee with id {payee_id!r}") from None


def payee_balance(payee_id) -> Payee:
    """The payee's balance and hold, locked (the last lock in the order)."""
    return Payee.objects.select_for_update().only("balance", "held").get(pk=payee_id)


def payees(ids) -> list[Payee]:
    """Several payees, locked in id order (with their users, for the run's notices)."""
    return list(Payee.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk").select_related("user"))
