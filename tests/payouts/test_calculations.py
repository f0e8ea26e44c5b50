"""Monthly interest: the right amount, exactly once per payee and month, whoever runs it."""

import datetime as dt
from decimal import Decimal

import pytest

from jobs.ops.enqueue import enqueue
from payouts import calculations
from payouts.models import LedgerEntry, Payee
from payouts.services import PayoutError

pytestmark = pytest.mark.django_db(transaction=True)


def test_interest_is_posted_once_per_month_on_the_month_end_balance(make_payee, settings):
    settings.PAYEE_INTEREST_RATE = Decimal("0.06")  # 0.5 % a month
    payee = make_payee(balance="1000.00")
    poor = make_payee(balance="0.50")  # 0.0025: nothing due
    period = dt.date.today().strftime("%Y-%m")
    assert calculations.post_interest(period) == {"period": period, "posted": 1, "already_posted": 0, "nothing_due": 1, "total": "5.00"}
    assert calculations.post_interest(period)["already_posted"] == 1
    entry = LedgerEntry.objects.get(payee=payee, reference=f"interest {period}")
    payee.refresh_from_db()
    assert entry.amount == Decimal("5.00") and payee.balance == Decimal("1005.00")
    assert not LedgerEntry.objects.filter(payee=poor, reference__startswith="interest").exists()


def test_credits_after_the_month_end_do_not_count(make_payee, settings):
    settings.PAYEE_INTEREST_RATE = Decimal("0.12")
    payee = make_payee(balance="100.00")
    LedgerEntry.objects.filter(payee=payee).update(created_at=dt.datetime(2026, 1, 15, tzinfo=dt.UTC))
    Payee.objects.filter(pk=payee.pk).update(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    assert calculations.post_interest("2026-01")["total"] == "1.00"
    assert calculations.post_interest("2025-12")["posted"] == 0  # the payee did not exist yet


def test_the_task_runs_for_last_month_and_the_rate_zero_posts_nothing(make_payee, run_worker, settings):
    make_payee(balance="100.00")
    job = enqueue("calculations.post_interest")
    run_worker("calculations")
    job.refresh_from_db()
    assert job.result["skipped"] == "PAYEE_INTEREST_RATE is 0" and job.queue == "calculations"


@pytest.mark.parametrize("period", ["2026-13", "26-01", "", "2026-1"])
def test_bad_periods_are_refused(period):
    with pytest.raises(PayoutError) as info:
        calculations.post_interest(period, rate=Decimal("0.1"))
    assert info.value.field == "period"
