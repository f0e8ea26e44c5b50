"""100 payouts through real workers while the sandbox injects errors and timeouts and the test
kill -9s busy workers (CHAOS_KILLS: 20, make chaos 100): every payout ends paid, failed or
expired, and each paid one is exactly one transfer (a failed one, none). With 100 kills it
needs a lost worker not to use up a job's attempts (WORKER_LOST_RETRIES): before that, payout
and expiry jobs died of losses alone and left their payouts open."""

import os
import random
import signal
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from schwifty import IBAN

from jobs.core.states import State
from jobs.models import JobRecord, WorkerHeartbeat
from payouts import services
from payouts.models import Payout, SandboxTransfer
from payouts.reconciliation import ledger_mismatches
from tests.reliability.procs import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

KILLS = int(os.environ.get("CHAOS_KILLS", "20"))
P = Payout.State
QUEUES = ("payouts", "provider_fallback", "payout_expiry", "notifications")


@pytest.mark.chaos  # about a minute at 20 kills, 2.5 at make chaos's 100
@pytest.mark.timeout(600)
def test_payouts_survive_provider_failures_and_kill_9(processes, settings):
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("100")
    settings.PAYOUT_APPROVAL_TTL = 2
    User = get_user_model()
    payees = []
    for i in range(25):
        user = User.objects.create_user(f"chaos{i}", f"chaos{i}@example.com")
        # Two payees' banks decline; the others have valid IBANs (checked on entry).
        account = "0000999988887777" if i % 12 == 11 else str(IBAN.generate("NL", bank_code="ABNA", account_code=f"04171643{i:02d}"))
        payee = services.payee_create(user, currency="EUR", account=account)
        services.ledger_credit(payee.pk, "500.00")
        payees.append(payee)
    payouts = [services.payout_request(p.pk, amount) for p in payees for amount in ("10.00", "20.00", "30.00")]
    payouts += [services.payout_request(p.pk, "150.00") for p in payees[:25]]  # need approval: left to expire
    assert len(payouts) == 100

    processes.env.update(
        {"SANDBOX_ERROR_RATE": "0.2", "SANDBOX_TIMEOUT_RATE": "0.1", "SANDBOX_LATENCY": "0.05", "PAYOUT_FALLBACK_AFTER": "2"}
    )
    processes.scheduler()
    for _ in range(3):
        processes.worker(*QUEUES)

    rng = random.Random(99)
    ids = [p.pk for p in payouts]
    open_payouts = lambda: Payout.objects.filter(pk__in=ids).exclude(state__in=(P.PAID, P.FAILED, P.EXPIRED)).exists()  # noqa: E731
    kills = 0
    started = time.monotonic()
    while kills < KILLS and open_payouts():
        victim = (
            WorkerHeartbeat.objects.filter(name__in=JobRecord.objects.filter(state=State.RUNNING, queue__in=QUEUES).values("worker_name"))
            .exclude(pid=0)
            .values_list("pid", flat=True)
            .first()
        )
        if victim:
            os.kill(victim, signal.SIGKILL)
            WorkerHeartbeat.objects.filter(pid=victim).update(pid=0)
            kills += 1
            processes.worker(*QUEUES)
        wait_for(lambda: True, timeout=rng.uniform(0.1, 0.5))

    killing = time.monotonic() - started
    try:
        wait_for(lambda: not open_payouts(), timeout=240, interval=0.5, message="every payout to end")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out} after {kills} kills in {killing:.0f} s; {_what_is_open(ids)}") from None
    states = dict.fromkeys(P.values, 0)
    for payout in Payout.objects.filter(pk__in=ids):
        states[payout.state] += 1
        moved = SandboxTransfer.objects.filter(idempotency_key=str(payout.idempotency_key)).count()
        assert moved == (1 if payout.state == P.PAID else 0), f"{payout}: {moved} transfers"
    assert states[P.EXPIRED] == 25 and states[P.FAILED] >= 6 and states[P.PAID] >= 60, states
    assert kills >= min(KILLS, 5), f"only {kills} kills happened"
    assert ledger_mismatches() == []


def _what_is_open(ids) -> str:
    """Where the payouts still open stand, and the jobs of the payout queues, for a failure."""
    stuck = Payout.objects.filter(pk__in=ids).exclude(state__in=(P.PAID, P.FAILED, P.EXPIRED))
    by_state = {}
    for state, updated in stuck.values_list("state", "updated_at"):
        by_state.setdefault(state, []).append(updated.isoformat(timespec="seconds"))
    jobs = {}
    for task, state in JobRecord.objects.filter(queue__in=QUEUES).values_list("task_name", "state"):
        key = f"{task}:{state}"
        jobs[key] = jobs.get(key, 0) + 1
    return f"open payouts by state (last change): {by_state}; payout queue jobs by task:state {jobs}"
