"""Every write to payees, the ledger and payouts. Admin actions, the API, commands and
tasks call these; each staff action leaves an audit entry. One module per sub-domain:

    payees      payee accounts, bank details, ledger credits
    requests    request, approve, cancel, expire, retry, process now
    processing  the provider call, fallback, settle
    runs        payout runs (one payout per payee for the available balance)
    recurring   standing instructions
    base        the state machine's move, amounts, currencies, balance and hold arithmetic
    locks       every row lock, in one order (instruction -> payout -> payee)

The promise: no payee is paid twice, and no owed payout is lost.

* The provider sees the payout's idempotency key, so any repeat of the call (a retry,
  a duplicate delivery, a worker killed between the call and our commit) finds the
  first transfer instead of making a second.
* The provider is called outside any transaction; its outcome is recorded after,
  under the payout's row lock, only if the payout is still ``processing``.
* Before a payout leaves a provider (fallback) or is declared failed after errors,
  the provider is asked whether the transfer happened; if it did, the payout is paid.
* Holds: a payout reserves its amount (``held``) from request until it is paid (then
  debited), failed, cancelled or expired (then released), under the payee's row lock.

Callers import this package (``from payouts import services``); the names below are its API.
"""

from payouts.errors import PayoutError
from payouts.services.base import CENT, IN_FLIGHT, TRANSITIONS, _adjust, _amount, _currency, _move
from payouts.services.payees import ledger_credit, payee_create, payee_set_account, payee_update
from payouts.services.processing import apply_transfer, check_sent, payout_check_settlement, process_payout, settle
from payouts.services.recurring import recurring_due, recurring_save
from payouts.services.requests import (
    _enqueue_processing,
    payout_approve,
    payout_cancel,
    payout_expire,
    payout_process_now,
    payout_request,
    payout_retry,
)
from payouts.services.runs import RunPlan, payout_run

__all__ = [
    "CENT",
    "IN_FLIGHT",
    "TRANSITIONS",
    "PayoutError",
    "RunPlan",
    "_adjust",
    "_amount",
    "_currency",
    "_enqueue_processing",
    "_move",
    "ledger_credit",
    "payee_create",
    "payee_set_account",
    "payee_update",
    "payout_approve",
    "payout_cancel",
    "payout_expire",
    "payout_process_now",
    "payout_request",
    "payout_retry",
    "payout_run",
    "process_payout",
    "apply_transfer",
    "check_sent",
    "payout_check_settlement",
    "recurring_due",
    "recurring_save",
    "settle",
]
