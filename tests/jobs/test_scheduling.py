"""Recurring schedules: validation, fire arithmetic, exactly-once ticks, missed fires, edits."""

import datetime as dt
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEntry
from jobs import scheduler
from jobs.core import keys, timing
from jobs.core.states import State
from jobs.models import JobRecord, Schedule, ScheduleFire
from jobs.scheduling import control, firing

pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.UTC


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def minutely(monkeypatch):
    Schedule.objects.all().delete()
    monkeypatch.setattr(timing, "now", lambda: at(2026, 1, 1, 12, 0, 30))
    schedule = Schedule.objects.create(name="every minute", task_name="test.count", cron="* * * * *")
    assert schedule.next_fire_at == at(2026, 1, 1, 12, 1)
    return schedule


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"task_name": "no.such"}, "task_name"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "every hour"}, "cron"),
        ({"cron": ""}, "cron"),
        ({"interval_seconds": 60}, "cron"),  # both given
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"queue": "nope"}, "queue"),
        ({"kwargs": {"when": {1, 2}}}, "kwargs"),
        ({"args": {"a": 1}}, "args"),
    ],
)
def test_invalid_schedules_are_refused_naming_the_field(fields, bad):
    values = {"name": "x", "task_name": "test.count", "cron": "0 * * * *", **fields}
    with pytest.raises(ValidationError) as info:
        Schedule(**values).full_clean()
    assert bad in info.value.message_dict


def test_cron_is_read_in_the_schedules_time_zone_across_dst():
    schedule = Schedule(name="x", task_name="test.count", cron="30 6 * * *", timezone="Europe/London")
    assert timing.next_fire_after(schedule, at(2026, 3, 28, 12)) == at(2026, 3, 29, 5, 30)  # BST starts: 06:30 local = 05:30 UTC
    assert timing.next_fire_after(schedule, at(2026, 3, 27, 12)) == at(2026, 3, 28, 6, 30)


def test_each_due_fire_happens_once(minutely):
    assert firing.tick(at(2026, 1, 1, 12, 0, 59)) == 0
    assert firing.tick(at(2026, 1, 1, 12, 1, 0)) == 1
    assert firing.tick(at(2026, 1, 1, 12, 1, 0)) == 0  # a second scheduler, same instant
    assert firing.tick(at(2026, 1, 1, 12, 1, 40)) == 0
    assert firing.tick(at(2026, 1, 1, 12, 2, 1)) == 1
    fires = list(ScheduleFire.objects.order_by("fire_time").values_list("fire_time", "missed"))
    assert fires == [(at(2026, 1, 1, 12, 1), 0), (at(2026, 1, 1, 12, 2), 0)]
    minutely.refresh_from_db()
    assert minutely.next_fire_at == at(2026, 1, 1, 12, 3) and minutely.last_job.state == State.QUEUED
    assert JobRecord.objects.filter(task_name="test.count").count() == 2


def test_the_unique_fire_key_stops_a_second_insert(minutely):
    ScheduleFire.objects.create(schedule=minutely, fire_time=at(2026, 1, 1, 12, 1))  # another scheduler won the race
    assert firing.tick(at(2026, 1, 1, 12, 1, 5)) == 0
    assert JobRecord.objects.count() == 0
    minutely.refresh_from_db()
    assert minutely.next_fire_at == at(2026, 1, 1, 12, 2)


def test_missed_fires_run_once_when_a_scheduler_comes_back(minutely):
    assert firing.tick(at(2026, 1, 1, 12, 30, 10)) == 1  # down from 12:00:30 to 12:30:10
    (fire,) = ScheduleFire.objects.all()
    assert fire.fire_time == at(2026, 1, 1, 12, 30) and fire.missed == 29
    minutely.refresh_from_db()
    assert minutely.next_fire_at == at(2026, 1, 1, 12, 31)


def test_skip_policy_drops_stale_fires(minutely):
    Schedule.objects.filter(pk=minutely.pk).update(
        missed_fires=Schedule.MissedFires.SKIP, cron="0 * * * *", next_fire_at=at(2026, 1, 1, 13)
    )
    assert firing.tick(at(2026, 1, 1, 15, 30)) == 0  # 15:00 is 30 minutes stale
    minutely.refresh_from_db()
    assert minutely.next_fire_at == at(2026, 1, 1, 16) and not ScheduleFire.objects.exists()
    assert firing.tick(at(2026, 1, 1, 16, 0, 20)) == 1  # within the grace: fires


def test_interval_schedules(monkeypatch):
    monkeypatch.setattr(timing, "now", lambda: at(2026, 1, 1, 12))
    schedule = Schedule.objects.create(name="every 10s", task_name="test.count", interval_seconds=10)
    assert schedule.next_fire_at == at(2026, 1, 1, 12, 0, 10)
    assert firing.tick(at(2026, 1, 1, 12, 0, 45)) == 1
    fire = ScheduleFire.objects.get()
    assert fire.fire_time == at(2026, 1, 1, 12, 0, 40) and fire.missed == 3


def test_editing_the_timing_moves_the_next_fire_and_disabling_stops_it(minutely):
    minutely.cron = "0 18 * * *"
    minutely.save()
    assert minutely.next_fire_at == at(2026, 1, 1, 18)
    minutely.enabled = False
    minutely.save()
    assert minutely.next_fire_at is None
    assert firing.tick(at(2026, 1, 2, 0, 0)) == 0


def test_a_schedule_whose_task_vanished_records_the_error_and_keeps_going(minutely):
    Schedule.objects.filter(pk=minutely.pk).update(task_name="gone.task")
    assert firing.tick(at(2026, 1, 1, 12, 1, 1)) == 0
    minutely.refresh_from_db()
    assert "Unknown task" in minutely.last_error and minutely.next_fire_at == at(2026, 1, 1, 12, 2)


def test_admin_validates_and_fires_now(client, django_user_model, minutely):
    boss = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(boss)
    form = {
        "name": "bad",
        "task_name": "test.count",
        "args": "[]",
        "kwargs": "{}",
        "cron": "not cron",
        "timezone": "UTC",
        "missed_fires": "run_once",
        "enabled": "on",
    }
    page = client.post("/admin/jobs/schedule/add/", form)
    assert page.status_code == 200 and b"is not a valid cron expression" in page.content
    assert not Schedule.objects.filter(name="bad").exists()
    response = client.post("/admin/jobs/schedule/", {"action": "fire_now", "_selected_action": [minutely.pk]}, follow=True)
    assert b"Enqueued a job for: 1 schedule(s)" in response.content
    assert AuditEntry.objects.get(action="schedule.fire_now").actor == boss
    assert client.get(f"/admin/jobs/schedule/{minutely.pk}/change/").status_code == 200


def test_single_instance_mode_lets_one_process_fire(settings, redis_db):
    settings.USE_DISTRIBUTED_SCHEDULER = False
    first, second = firing.SchedulerMode(), firing.SchedulerMode()
    second.identity += "-other"
    assert first.may_fire() and not second.may_fire() and first.may_fire()
    redis_db.delete(keys.SINGLE_LOCK)  # the holder died and its lock expired
    assert second.may_fire() and not first.may_fire()
    settings.USE_DISTRIBUTED_SCHEDULER = True
    assert first.may_fire() and second.may_fire()


def test_a_stopping_leader_hands_over_at_once(settings, redis_db):
    """Single-instance mode: a scheduler stopped cleanly (deploy, scale-down) releases the lock,
    so a standby fires on its next tick instead of after the lock's expiry; it never releases
    a lock another process holds."""
    settings.USE_DISTRIBUTED_SCHEDULER = False
    leader, standby = firing.SchedulerMode(), firing.SchedulerMode()
    standby.identity += "-standby"
    assert leader.may_fire() and not standby.may_fire()
    standby.release()  # not the holder: changes nothing
    assert not standby.may_fire()
    leader.release()
    assert standby.may_fire() and not leader.may_fire()


def test_the_scheduler_loop_releases_the_lock_when_it_stops(settings, redis_db):
    settings.USE_DISTRIBUTED_SCHEDULER = False
    ticks = []
    scheduler.run_forever(0.05, stop=lambda: ticks.append(1) or len(ticks) > 2)
    assert redis_db.get(keys.SINGLE_LOCK) is None


def test_a_long_tick_stops_firing_once_the_lock_is_lost(minutely, monkeypatch):
    """Single-instance mode: a tick firing many schedules re-checks its lock as it goes; once
    another scheduler holds it, this one leaves the rest to the new leader."""
    for i in range(3):
        Schedule.objects.create(name=f"also {i}", task_name="test.count", cron="* * * * *")
    monkeypatch.setattr(firing, "SINGLE_LOCK_TTL", 0)  # ask before every fire
    answers = iter([True, False])
    assert firing.tick(at(2026, 1, 1, 12, 1, 0), still_allowed=lambda: next(answers)) == 1
    assert firing.tick(at(2026, 1, 1, 12, 1, 0)) == 3  # the new leader fires the rest, once each
    assert ScheduleFire.objects.count() == 4


def test_seconds_to_next_fire(minutely):
    assert firing.seconds_to_next_fire() == 30.0
    Schedule.objects.update(enabled=False)
    assert firing.seconds_to_next_fire() is None


def test_the_loop_wakes_for_a_fire_time_between_sweeps(redis_db, settings):
    """A schedule due 0.3 s from now fires then, not at the next sweep 3 s later."""
    Schedule.objects.all().delete()
    schedule = Schedule.objects.create(name="soon", task_name="test.count", interval_seconds=3600)
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=timezone.now() + dt.timedelta(seconds=0.3))
    started = time.monotonic()
    scheduler.run_forever(3.0, stop=lambda: time.monotonic() - started > 1)
    fire = ScheduleFire.objects.get(schedule=schedule)
    assert (fire.created_at - fire.fire_time).total_seconds() < 1.5


def test_a_failing_scheduler_duty_is_logged_and_the_others_still_run(caplog):
    """The loop's duties are independent: a broken one (the rollup, say) cannot stop dispatching."""
    ran = []

    class Broken(scheduler.Duty):
        name = "broken"

        def run(self, p):
            raise RuntimeError("boom")

    class Counting(scheduler.Duty):
        name = "counting"
        every_interval = False

        def run(self, p):
            ran.append(p.sweep_due)

    passes = []
    scheduler.run_forever(0.01, stop=lambda: passes.append(1) or len(passes) > 3, duties=(Broken(), Counting()))
    assert len(ran) == 3
    assert "scheduler: broken failed" in caplog.text


@pytest.mark.django_db
def test_schedule_changes_are_written_and_audited_by_the_service(django_user_model):
    """The admin's add, edit, enable and disable all go through jobs.scheduling.control."""
    boss = django_user_model.objects.create_user("sched-boss")
    schedule = control.schedule_save(Schedule(name="Nightly", task_name="test.count", cron="0 1 * * *"), actor=boss, changed=["name"])
    control.schedule_set_enabled(schedule.pk, False, actor=boss, reason="paused for the migration")
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_fire_at is None
    control.schedule_set_enabled(schedule.pk, True, actor=boss)
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_fire_at is not None
    entries = list(AuditEntry.objects.filter(object_type="schedule", object_id=str(schedule.pk)).order_by("pk"))
    assert [e.action for e in entries] == ["schedule.add", "schedule.disable", "schedule.enable"]
    assert entries[0].details == {"fields": ["name"]} and entries[1].reason == "paused for the migration"
    assert {e.actor for e in entries} == {boss}
