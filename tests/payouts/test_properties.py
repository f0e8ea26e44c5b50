"""Property: whatever sequence of credits, requests, provider failures, retries, cancels and
settles happens, the books balance and every paid payout is exactly one transfer."""

import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from payouts import services
from payouts.models import LedgerEntry, Payee, Payout, SandboxTransfer
from payouts.providers import ProviderError
from payouts.services import IN_FLIGHT, PayoutError
from tests.payouts.conftest import ScriptedProvider

pytestmark = pytest.mark.django_db(transaction=True)
P = Payout.State
_users = itertools.count()

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("120"), places=2)
outcomes = st.sampled_from(["ok", "error", "timeout", "decline", "lookup_error"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("credit"), amounts),
        st.tuples(st.just("request"), amounts),
        st.tuples(st.just("process"), st.integers(0, 5), outcomes, st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("retry"), st.integers(0, 5)),
        st.tuples(st.just("settle"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=25,
)


def check_books(payee: Payee) -> None:
    payee.refresh_from_db()
    total = lambda q: q.aggregate(s=Sum("amount"))["s"] or Decimal("0")  # noqa: E731
    credits = total(LedgerEntry.objects.filter(payee=payee, kind="credit"))
    debits = total(LedgerEntry.objects.filter(payee=payee, kind="debit"))
    assert payee.balance == credits - debits >= 0
    assert payee.held == total(Payout.objects.filter(payee=payee, state__in=IN_FLIGHT)) <= payee.balance
    for payout in Payout.objects.filter(payee=payee):
        moved = SandboxTransfer.objects.filter(idempotency_key=str(payout.idempotency_key)).count()
        if payout.state == P.PAID:
            assert moved == 1, payout
            assert LedgerEntry.objects.get(payout=payout).amount == payout.amount
        elif payout.state != P.PROCESSING:
            assert moved == 0, payout  # failed, cancelled, expired: no money left
        else:
            assert moved <= 1


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_books_balance_and_each_paid_payout_is_one_transfer(script, ops, settings):
    settings.PAYOUT_FALLBACK_AFTER = 2
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("100")
    user = get_user_model().objects.create_user(f"prop{next(_users)}")
    payee = services.payee_create(user, currency="EUR", account="12345678")
    payouts: list[int] = []
    for op in ops:
        ScriptedProvider.scripts = {}
        pick = lambda i: payouts[i % len(payouts)] if payouts else None  # noqa: E731
        try:
            if op[0] == "credit":
                services.ledger_credit(payee.pk, op[1])
            elif op[0] == "request":
                payout = services.payout_request(payee.pk, op[1])
                payouts.append(payout.pk)
                if payout.state == P.REQUESTED:
                    services.payout_approve(payout.pk, actor=None)
            elif op[0] == "process" and payouts:
                provider = Payout.objects.get(pk=pick(op[1])).provider or "sandbox"
                if op[2] != "ok":
                    script(provider, op[2])
                services.process_payout(pick(op[1]), last_attempt=op[3])
            elif op[0] == "cancel" and payouts:
                services.payout_cancel(pick(op[1]), actor=None)
            elif op[0] == "retry" and payouts:
                services.payout_retry(pick(op[1]), actor=None)
            elif op[0] == "settle" and payouts:
                services.settle(pick(op[1]))
        except (PayoutError, ProviderError):
            pass  # refused or to be retried: the books must hold all the same
        check_books(payee)
    # Finally everything still open is driven home: nothing owed is lost.
    ScriptedProvider.scripts = {}
    for pk in Payout.objects.filter(payee=payee, state__in=(P.APPROVED, P.PROCESSING)).values_list("pk", flat=True):
        assert services.process_payout(pk) in (P.PAID, P.FAILED, "fallback")
        if Payout.objects.get(pk=pk).state == P.PROCESSING:
            assert services.process_payout(pk) == P.PAID
    check_books(payee)
    assert not Payout.objects.filter(payee=payee, state__in=(P.APPROVED, P.PROCESSING)).exists()
