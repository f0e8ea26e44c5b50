"""Payout runs (daily and manual), dry runs, recurring instructions, the command and the admin."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts import services
from payouts.models import LedgerEntry, Payee, Payout, PayoutRun, RecurringPayout
from payouts.services import PayoutError
from tests.payouts.conftest import transfers

pytestmark = pytest.mark.django_db(transaction=True)
P = Payout.State


@pytest.fixture
def payees(make_payee):
    rich = make_payee(balance="80.00")
    poor = make_payee(balance="5.00")  # below the 10.00 threshold
    busy = make_payee(balance="50.00")
    services.payout_request(busy.pk, "20")  # already has one on its way
    return rich, poor, busy


def test_a_run_pays_each_payee_over_threshold_once(payees, drain):
    rich, poor, busy = payees
    plan = services.payout_run(trigger=PayoutRun.Trigger.SCHEDULE, run_key="daily-2026-11-23")
    assert [p["payee"] for p in plan.payouts] == [rich.pk]
    assert {s["payee"] for s in plan.skipped} == {poor.pk, busy.pk}
    run = PayoutRun.objects.get(run_key="daily-2026-11-23")
    assert (run.payees_considered, run.payouts_created, run.total) == (3, 1, Decimal("80.00"))
    again = services.payout_run(trigger=PayoutRun.Trigger.SCHEDULE, run_key="daily-2026-11-23")
    assert again.payouts == [] and Payout.objects.filter(run=run).count() == 1
    drain()
    rich.refresh_from_db()
    assert rich.balance == Decimal("0") and transfers() == 2


def test_a_dry_run_shows_the_same_plan_and_writes_nothing(payees):
    rich = payees[0]
    before = (Payout.objects.count(), JobRecord.objects.count(), PayoutRun.objects.count())
    plan = services.payout_run(dry_run=True)
    assert plan.dry_run and [p["payee"] for p in plan.payouts] == [rich.pk] and plan.total == Decimal("80.00")
    assert plan.payouts[0]["destination"].endswith("3000")
    assert (Payout.objects.count(), JobRecord.objects.count(), PayoutRun.objects.count()) == before


def test_a_run_for_selected_payees_and_unknown_ids(payees):
    rich, poor, _ = payees
    plan = services.payout_run(payee_ids=[poor.pk])
    assert plan.payouts == []
    with pytest.raises(PayoutError) as info:
        services.payout_run(payee_ids=[rich.pk, 987654])
    assert info.value.field == "payees" and "987654" in info.value.message


def test_the_daily_task_runs_once_a_day(payees, run_worker):
    enqueue("payouts.daily_run")
    enqueue("payouts.daily_run")
    run_worker("payouts")
    assert PayoutRun.objects.filter(trigger="schedule").count() == 1


def test_the_command_previews_and_pays(payees, capsys):
    call_command("run_payouts", "--all", "--dry-run")
    out = capsys.readouterr().out
    assert "would pay payee" in out and "dry run: nothing written" in out and Payout.objects.filter(run__isnull=False).count() == 0
    call_command("run_payouts", "--payee", str(payees[0].pk))
    assert Payout.objects.filter(run__isnull=False).count() == 1


def test_recurring_instructions_pay_once_per_fire_and_fold_missed_fires(make_payee):
    payee = make_payee(balance="100.00")
    instruction = services.recurring_save(RecurringPayout(payee=payee, amount=Decimal("15"), interval_seconds=3600))
    assert instruction.next_run_at > timezone.now()
    later = instruction.next_run_at + dt.timedelta(hours=5)  # five fires missed while nobody ran
    assert services.recurring_due(later) == {"created": 1, "refused": 0}
    assert services.recurring_due(later) == {"created": 0, "refused": 0}
    instruction.refresh_from_db()
    assert instruction.next_run_at > later
    assert Payout.objects.get(recurring=instruction).amount == Decimal("15")


def test_a_recurring_payout_without_the_money_is_refused_and_audited(make_payee):
    payee = make_payee(balance="5.00")
    instruction = services.recurring_save(RecurringPayout(payee=payee, amount=Decimal("15"), cron="0 9 * * *"))
    assert services.recurring_due(instruction.next_run_at) == {"created": 0, "refused": 1}
    assert AuditEntry.objects.filter(action="payout.recurring_refused").exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"cron": "not a cron"}, "cron"),
        ({"cron": "0 9 * * *", "interval_seconds": 60}, "cron"),
        ({"cron": "0 9 * * *", "timezone": "Mars/Base"}, "timezone"),
        ({"interval_seconds": 60, "amount": Decimal("0")}, "amount"),
    ],
)
def test_bad_recurring_instructions_are_refused(make_payee, kwargs, field):
    payee = make_payee()
    with pytest.raises(PayoutError) as info:
        services.recurring_save(RecurringPayout(payee=payee, **{"amount": Decimal("5"), **kwargs}))
    assert info.value.field == field and not RecurringPayout.objects.exists()


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return user


def test_admin_pages_and_the_pay_now_and_preview_actions(client, staff, payees):
    rich = payees[0]
    for name in ("payee", "payout", "payoutrun", "ledgerentry", "recurringpayout", "reconciliationreport"):
        assert client.get(reverse(f"admin:payouts_{name}_changelist")).status_code == 200, name
    for term in ("abc", "12", "payee0", "not-a-uuid", str(Payout.objects.get().idempotency_key)):
        assert client.get(reverse("admin:payouts_payout_changelist"), {"q": term}).status_code == 200, term
    page = client.get(reverse("admin:payouts_payee_change", args=[rich.pk]))
    assert page.status_code == 200 and b"3000" in page.content and b"DE89370400440532013000" not in page.content
    preview = client.post(reverse("admin:payouts_payee_changelist"), {"action": "preview_payouts", "_selected_action": [rich.pk]})
    assert preview.status_code == 200 and b"Would pay (1, 80.00 in total)" in preview.content
    assert Payout.objects.filter(run__isnull=False).count() == 0
    done = client.post(reverse("admin:payouts_payee_changelist"), {"action": "pay_now", "_selected_action": [rich.pk]}, follow=True)
    assert b"1 payout(s), 80.00 in total" in done.content
    assert AuditEntry.objects.filter(action="payout.run", actor=staff).exists()


def test_admin_payout_actions_call_the_services(client, staff, payees):
    busy_payout = Payout.objects.get()
    response = client.post(
        reverse("admin:payouts_payout_changelist"), {"action": "cancel", "_selected_action": [busy_payout.pk]}, follow=True
    )
    assert b"Cancelled: 1 payout(s)" in response.content
    response = client.post(
        reverse("admin:payouts_payout_changelist"), {"action": "approve", "_selected_action": [busy_payout.pk]}, follow=True
    )
    assert b"cannot become approved" in response.content
    assert AuditEntry.objects.filter(action="payout.cancel", actor=staff).count() == 1


def test_admin_adds_payees_and_credits_through_the_services(client, staff, django_user_model):
    user = django_user_model.objects.create_user("newbie", "n@example.com", "pw")
    response = client.post(
        reverse("admin:payouts_payee_add"),
        {
            "user": user.pk,
            "currency": "usd",
            "method": "bank",
            "account_number": "123456789",
            "threshold": "10.00",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    payee = Payee.objects.get(user=user)
    assert payee.currency == "USD" and payee.destination.endswith("6789")
    response = client.post(
        reverse("admin:payouts_ledgerentry_add"), {"payee": payee.pk, "amount": "12.34", "currency": "", "memo": "bonus", "reference": ""}
    )
    assert response.status_code == 302
    payee.refresh_from_db()
    assert payee.balance == Decimal("12.34")
    bad = client.post(
        reverse("admin:payouts_recurringpayout_add"),
        {"payee": payee.pk, "amount": "5", "cron": "99 * * * *", "timezone": "UTC", "enabled": "on"},
    )
    assert bad.status_code == 200 and b"not a valid cron expression" in bad.content and not RecurringPayout.objects.exists()


@pytest.mark.parametrize(
    "url, data, message",
    [
        ("admin:payouts_ledgerentry_add", {"amount": "-5", "currency": "", "memo": "", "reference": ""}, b"must be greater than zero"),
        (
            "admin:payouts_ledgerentry_add",
            {"amount": "5", "currency": "USD", "memo": "", "reference": ""},
            b"this payee&#x27;s account is in EUR",
        ),
        ("admin:payouts_recurringpayout_add", {"amount": "0", "interval_seconds": "60", "timezone": "UTC"}, b"must be greater than zero"),
    ],
)
def test_admin_forms_show_bad_money_input_as_errors(client, staff, make_payee, url, data, message):
    payee = make_payee()
    entries = LedgerEntry.objects.count()
    response = client.post(reverse(url), {"payee": payee.pk, **data})
    assert response.status_code == 200 and message in response.content
    assert LedgerEntry.objects.count() == entries and not RecurringPayout.objects.exists()
