"""The hourly per-user analytics fan-out and its manual paths."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from rq import Queue

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts import services as payouts
from reports.models import UserFigures
from reports.services import analytics_fan_out, user_figures

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def users(django_user_model):
    made = [django_user_model.objects.create_user(f"u{i}") for i in range(5)]
    django_user_model.objects.create_user("gone", is_active=False)
    return made


def test_one_job_per_active_user_and_none_while_one_waits(users, redis_db):
    assert analytics_fan_out() == {"users": 5, "enqueued": 5, "already_waiting": 0}
    assert analytics_fan_out() == {"users": 5, "enqueued": 0, "already_waiting": 5}
    jobs = JobRecord.objects.filter(task_name="analytics.user")
    assert jobs.count() == 5 and Queue("analytics", connection=redis_db).count == 5
    assert set(jobs.values_list("dedup_key", flat=True)) == {f"user analytics for user {u.pk}" for u in users}
    assert set(jobs.values_list("subject_type", "subject_id")) == {("user", str(u.pk)) for u in users}


def test_the_hourly_job_fans_out_and_the_per_user_jobs_run(users, run_worker):
    producer = enqueue("analytics.fan_out")
    run_worker("analytics")  # runs the producer, then the five per-user jobs it enqueued
    producer.refresh_from_db()
    assert producer.result == {"users": 5, "enqueued": 5, "already_waiting": 0}
    per_user = JobRecord.objects.filter(task_name="analytics.user")
    assert set(per_user.values_list("state", flat=True)) == {State.SUCCEEDED}
    assert per_user.first().result["jobs_last_24h"] == 1
    assert analytics_fan_out()["enqueued"] == 5  # finished: next hour's jobs may be created


def test_manual_paths_one_user_and_all(users, client, django_user_model, capsys):
    call_command("run_analytics", "--user", str(users[0].pk))
    assert "1 user(s): 1 job(s) enqueued" in capsys.readouterr().out
    call_command("run_analytics")
    assert "5 user(s): 4 job(s) enqueued, 1 already waiting" in capsys.readouterr().out

    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(boss)
    response = client.post("/admin/auth/user/", {"action": "run_analytics", "_selected_action": [boss.pk]}, follow=True)
    assert b"Analytics: 1 job(s) enqueued" in response.content
    assert AuditEntry.objects.get(action="analytics.run_now").actor == boss


def test_per_user_figures_are_stored_and_recomputed_idempotently(django_user_model, run_worker):
    user = django_user_model.objects.create_user("earner")
    payee = payouts.payee_create(user, currency="EUR", account="DE89370400440532013000")
    payouts.ledger_credit(payee.pk, "80.00")
    payouts.payout_request(payee.pk, "30.00")
    run_worker()  # paid
    payouts.payout_request(payee.pk, "5.00")  # still on its way
    first = user_figures(user.pk)
    again = user_figures(user.pk)
    assert first == again and UserFigures.objects.count() == 1
    figures = UserFigures.objects.get(user=user)
    assert (figures.balance, figures.available, figures.earnings_30d) == (Decimal("50.00"), Decimal("45.00"), Decimal("80.00"))
    assert (figures.payouts_paid, figures.paid_total, figures.payouts_in_flight) == (1, Decimal("30.00"), 1)
    assert figures.last_activity is not None and figures.currency == "EUR"
    assert user_figures(987654) == {"user": 987654, "missing": True}
