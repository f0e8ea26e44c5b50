import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

from jobs.core.queues import Priority
from jobs.core.states import State
from jobs.core.timing import DefaultSchedule
from jobs.models import JobRecord, Schedule
from jobs.ops.enqueue import enqueue
from jobs.scheduling.defaults import declared_schedule_problems, sync_default_schedules

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_job_command(capsys):
    call_command("enqueue_job", "test.count", "--args", "[]", "--kwargs", '{"key": "cli"}', "--priority", "high", "--count", "3")
    assert "enqueued 3 x test.count" in capsys.readouterr().out
    rows = list(JobRecord.objects.values_list("kwargs", "priority", "state"))
    assert rows == [({"key": "cli"}, Priority.HIGH, State.QUEUED)] * 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["no.such.task"], "task: Unknown task"),
        (["test.count", "--kwargs", "{not json"], "must be JSON"),
        (["test.count", "--queue", "nope"], "queue: Unknown queue"),
    ],
)
def test_enqueue_job_command_rejects_bad_input(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("enqueue_job", *argv)
    assert JobRecord.objects.count() == 0


def test_dispatch_command(capsys):
    call_command("conveyor_dispatch")
    assert "sent 0 pending" in capsys.readouterr().out


def test_conveyor_queue_clean_command(capsys):
    job = enqueue("test.count")
    JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, finished_at="2020-01-01T00:00:00Z")
    call_command("conveyor_queue", "clean", "default", "--grace", "60")
    assert "deleted 1 succeeded job(s)" in capsys.readouterr().out and not JobRecord.objects.exists()
    with pytest.raises(CommandError, match="Unknown queue"):
        call_command("conveyor_queue", "clean", "nope")
    with pytest.raises(CommandError, match="--grace"):
        call_command("conveyor_queue", "clean", "default", "--grace", "-1")


@pytest.mark.django_db(transaction=True)
def test_conveyor_worker_works_every_declared_queue_with_the_configured_worker_class(redis_db):
    jobs = [enqueue("test.count", kwargs={"key": queue}, queue=queue) for queue in ("reports", "maintenance", "default")]
    call_command("conveyor_worker", "--burst", verbosity=0)
    assert set(JobRecord.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True)) == {State.SUCCEEDED}


def test_the_queue_declarations_are_checked(settings):
    assert not [e for e in run_checks() if e.id.startswith("jobs.")]
    declared = settings.CONVEYOR_QUEUES
    settings.CONVEYOR_QUEUES = {**declared, "reports": {"concurrency": -1, "rate_limit": (0, 60), "retry": None}}
    assert sorted(e.id for e in run_checks() if e.id.startswith("jobs.")) == ["jobs.E001"] * 3  # cap, rate limit, retry
    settings.CONVEYOR_QUEUES = {name: queue for name, queue in declared.items() if name != "maintenance"}
    problems = [e.msg for e in run_checks() if e.id == "jobs.E003"]
    assert problems and all("'maintenance', which is not declared" in p for p in problems)  # jobs.cleanup, reports.expire_files


def test_the_declared_schedules_are_checked():
    assert not [e for e in run_checks() if e.id == "jobs.E004"]
    problems = declared_schedule_problems(
        [
            DefaultSchedule("A", "no.such_task", cron="0 * * * *"),
            DefaultSchedule("B", "jobs.cleanup", cron="61 * * * *"),
            DefaultSchedule("B", "jobs.cleanup", interval_setting="NO_SUCH_SETTING"),
            DefaultSchedule("C", "jobs.cleanup"),
        ]
    )
    assert problems == [
        "schedule 'A' names the unknown task 'no.such_task'",
        "schedule 'B': cron: '61 * * * *' is not a valid cron expression (five fields: minute hour day month weekday).",
        "schedule 'B' is declared twice",
        "schedule 'B' reads the missing setting NO_SUCH_SETTING",
        "schedule 'C': cron: Give either a cron expression or an interval, not both and not neither.",
    ]


def test_a_new_cron_in_code_reaches_an_untouched_schedule_and_leaves_its_switch_alone():
    assert sync_default_schedules([DefaultSchedule("Nightly", "jobs.cleanup", cron="0 1 * * *")])["created"] == 1
    Schedule.objects.filter(name="Nightly").update(enabled=False)  # staff switch it off
    assert sync_default_schedules([DefaultSchedule("Nightly", "jobs.cleanup", cron="30 2 * * *")])["updated"] == 1
    schedule = Schedule.objects.get(name="Nightly")
    assert schedule.cron == "30 2 * * *" and not schedule.enabled
    schedule.timezone = "Europe/London"  # an edit of its timing: from now on the admin's value wins
    schedule.save()
    assert sync_default_schedules([DefaultSchedule("Nightly", "jobs.cleanup", cron="0 3 * * *")])["updated"] == 0
    assert Schedule.objects.get(name="Nightly").cron == "30 2 * * *"
