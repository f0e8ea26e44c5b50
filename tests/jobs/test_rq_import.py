"""Moving over from django-rq: schedules rq-scheduler wrote to Redis itself, and an rq.cron
configuration module, imported as Conveyor schedules (manage.py import_rq_schedules)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rq_scheduler import Scheduler

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord, Schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rq_scheduler(redis_db):
    return Scheduler(queue_name="default", connection=redis_db)


def run(capsys, *args):
    call_command("import_rq_schedules", *args)
    return capsys.readouterr().out


def test_rq_schedulers_own_data_becomes_schedules_and_delayed_jobs(rq_scheduler, capsys):
    utc = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rq_scheduler.cron("*/5 * * * *", func="tests.sample_tasks.count", kwargs={"key": "every-5"}, queue_name="reports")
    rq_scheduler.schedule(scheduled_time=utc, func="tests.standard_tasks.add", args=[2, 3], interval=90, repeat=4)
    rq_scheduler.enqueue_at(utc + dt.timedelta(hours=2), "tests.sample_tasks.count", key="one-off")
    out = run(capsys)
    assert "2 schedule(s) created (disabled" in out and "1 delayed job(s)" in out
    cron = Schedule.objects.get(cron="*/5 * * * *")
    assert (cron.task_name, cron.kwargs, cron.queue, cron.timezone, cron.enabled) == (
        "test.count",
        {"key": "every-5"},
        "reports",
        "UTC",
        False,
    )
    every = Schedule.objects.get(interval_seconds=90)
    assert (every.task_name, every.args, every.queue) == ("tests.standard_tasks.add", [2, 3], "default")
    assert "repeat=4 has no equivalent" in out
    delayed = JobRecord.objects.get(task_name="test.count")
    assert delayed.state == State.SCHEDULED and delayed.kwargs == {"key": "one-off"}
    assert abs((delayed.run_at.replace(tzinfo=None) - (utc + dt.timedelta(hours=2))).total_seconds()) < 1
    assert AuditEntry.objects.filter(action="schedule.add").count() == 2
    # Again: nothing new.
    again = run(capsys, "--no-rq-scheduler")
    assert "0 schedule(s) created" in again
    assert "already imported" in run(capsys) and Schedule.objects.filter(name__contains="[rq ").count() == 2


def test_an_rq_cron_module_is_imported_enabled_on_request(capsys):
    out = run(capsys, "--no-rq-scheduler", "--cron-config", "tests.rq_cron_config", "--enable")
    assert "2 schedule(s) created (enabled)" in out
    interval = Schedule.objects.get(task_name="test.count")
    assert (interval.interval_seconds, interval.kwargs, interval.enabled, interval.next_fire_at is not None) == (
        120,
        {"key": "cron-count"},
        True,
        True,
    )
    daily = Schedule.objects.get(task_name="tests.standard_tasks.add")
    assert (daily.cron, daily.args, daily.queue) == ("0 6 * * *", [1, 2], "reports")


def test_a_function_that_is_no_task_is_reported_and_nothing_of_it_imported(rq_scheduler, capsys):
    rq_scheduler.cron("0 * * * *", func="os.getcwd")
    rq_scheduler.cron("15 * * * *", func="tests.sample_tasks.count")
    with pytest.raises(CommandError, match="1 definition"):
        call_command("import_rq_schedules")
    captured = capsys.readouterr()
    assert "skipped os.getcwd" in captured.err and "not a Conveyor or standard-API task" in captured.err
    assert list(Schedule.objects.filter(name__contains="[rq ").values_list("task_name", flat=True)) == ["test.count"]


def test_dry_run_changes_nothing(rq_scheduler, capsys):
    rq_scheduler.cron("*/5 * * * *", func="tests.sample_tasks.count")
    out = run(capsys, "--dry-run")
    assert "would create schedule" in out and not Schedule.objects.filter(name__contains="[rq ").exists()
