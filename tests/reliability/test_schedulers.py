"""Three real scheduler processes over a simulated hour: every fire exactly once, none missed,
even when one of them is killed half-way."""

import datetime as dt
import os
import signal
import socket
import time

import pytest

from jobs.core import keys
from jobs.models import JobRecord, Schedule, ScheduleFire
from jobs.transport.redis import get_redis
from tests.reliability.procs import Processes, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SPEED = 120  # simulated seconds per real second: an hour in 30 s
START = dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)


def test_three_schedulers_fire_every_minute_exactly_once():
    Schedule.objects.all().delete()
    # Disabled until all three schedulers are up: a slow start on a busy machine must not be
    # mistaken for a missed fire.
    minutely = Schedule.objects.create(name="minutely", task_name="test.count", cron="* * * * *", enabled=False)
    five = Schedule.objects.create(name="five minutes", task_name="test.count", interval_seconds=300, enabled=False)

    anchor = time.time() + 2  # simulated START happens two real seconds from now, for every process
    procs = Processes(SCHEDULER_CLOCK=f"{START.timestamp()},{anchor},{SPEED}", DISPATCH_INTERVAL="0.1")
    try:
        schedulers = [procs.scheduler() for _ in range(3)]
        identities = {f"{socket.gethostname()}:{p.pid}" for p in schedulers}
        seen = lambda: {k.decode() if isinstance(k, bytes) else k for k in get_redis().hkeys(keys.SCHEDULERS_KEY)}  # noqa: E731
        wait_for(lambda: identities <= seen(), 60, message=f"three schedulers running\n{procs.dead()}")
        # The first fires a simulated minute or more after now (half a real second or more).
        simulated_now = START + dt.timedelta(seconds=(time.time() - anchor) * SPEED)
        first_fire = {
            60: (simulated_now + dt.timedelta(minutes=2)).replace(second=0, microsecond=0),
            300: (simulated_now + dt.timedelta(minutes=5)).replace(second=0, microsecond=0),
        }
        Schedule.objects.filter(pk=minutely.pk).update(next_fire_at=first_fire[60], enabled=True)
        Schedule.objects.filter(pk=five.pk).update(next_fire_at=first_fire[300], enabled=True)
        time.sleep(15)  # half an hour, simulated
        os.killpg(schedulers[0].pid, signal.SIGKILL)
        time.sleep(16)
    finally:
        procs.stop_all()
    simulated_end = START + dt.timedelta(seconds=(time.time() - anchor) * SPEED)

    for schedule, step in ((minutely, 60), (five, 300)):
        fires = list(ScheduleFire.objects.filter(schedule=schedule).order_by("fire_time").values_list("fire_time", "missed"))
        times = [t for t, _ in fires]
        first = first_fire[step]
        expected = []
        moment = first
        while moment <= times[-1]:
            expected.append(moment)
            moment += dt.timedelta(seconds=step)
        assert times == expected, f"{schedule.name}: fires are not exactly the expected times"
        assert all(missed == 0 for _, missed in fires), f"{schedule.name}: a fire was missed"
        assert times[-1] >= simulated_end - dt.timedelta(seconds=step + 60)  # it kept firing to the end
        assert len(times) >= (55 * 60) // step
    assert JobRecord.objects.filter(task_name="test.count").count() == ScheduleFire.objects.count()
