import pytest
from django.core.management import CommandError, call_command

from jobs.models import JobRecord
from jobs.queues import Priority
from jobs.states import State

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_job_command(capsys):
    call_command("enqueue_job", "test.count", "--args", "[]", "--kwargs", '{"key": "cli"}', "--priority", "high", "--count", "3")
    assert "enqueued 3 x test.count" in capsys.readouterr().out
    rows = list(JobRecord.objects.values_list("kwargs", "priority", "state"))
    assert rows == [({"key": "cli"}, Priority.HIGH, State.QUEUED)] * 3


@pytest.mark.parametrize("argv, message", [
    (["no.such.task"], "task: Unknown task"),
    (["test.count", "--kwargs", "{not json"], "must be JSON"),
    (["test.count", "--queue", "nope"], "queue: Unknown queue"),
])
def test_enqueue_job_command_rejects_bad_input(argv, message):
    with pytest.raises(CommandError, match=message):
        call_command("enqueue_job", *argv)
    assert JobRecord.objects.count() == 0


def test_dispatch_command(capsys):
    call_command("conveyor_dispatch")
    assert "sent 0 pending" in capsys.readouterr().out
