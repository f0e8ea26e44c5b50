"""Django's standard Tasks API on Conveyor (jobs.standard_tasks): code written with
django_tasks' @task, .enqueue() and TaskResult runs as Conveyor jobs, with their rows,
on-commit enqueue, queues, priorities, delays, retries and results."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, default_task_backend, task_backends
from django_tasks.exceptions import InvalidTaskError, TaskResultDoesNotExist

from jobs.core.queues import Priority
from jobs.core.registry import find_task
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from tests import standard_tasks
from tests.sample_tasks import runs

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_default_backend_is_conveyor():
    assert type(task_backends["default"]).__name__ == "ConveyorBackend"
    assert default_task_backend.supports_defer and default_task_backend.supports_get_result and default_task_backend.supports_priority


def test_enqueue_makes_a_job_and_the_result_follows_it(run_worker):
    result = standard_tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY and not result.is_finished
    job = JobRecord.objects.get(pk=result.id)
    assert (job.task_name, job.queue, job.args, job.state) == ("tests.standard_tasks.add", "default", [2, 3], State.QUEUED)
    run_worker("default")
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.is_finished and result.return_value == 5
    assert result.attempts == 1 and result.started_at and result.finished_at and result.last_attempted_at
    fetched = standard_tasks.add.get_result(result.id)
    assert fetched.return_value == 5 and fetched.args == [2, 3] and fetched.task.module_path == "tests.standard_tasks.add"


def test_queue_name_and_priority_map_onto_conveyors():
    result = standard_tasks.greet.enqueue("ann")
    job = JobRecord.objects.get(pk=result.id)
    assert (job.queue, job.priority) == ("emails", Priority.HIGH)
    urgent = standard_tasks.greet.using(priority=90, queue_name="notifications").enqueue("bob")
    assert JobRecord.objects.filter(pk=urgent.id).values_list("queue", "priority").get() == ("notifications", Priority.CRITICAL)
    low = standard_tasks.add.using(priority=-5).enqueue(1, 1)
    assert JobRecord.objects.get(pk=low.id).priority == Priority.LOW


def test_run_after_is_a_delayed_job(run_worker):
    later = timezone.now() + timedelta(minutes=10)
    result = standard_tasks.add.using(run_after=later).enqueue(1, 2)
    job = JobRecord.objects.get(pk=result.id)
    assert job.state == State.SCHEDULED and job.run_at == later
    run_worker("default")
    assert standard_tasks.add.get_result(result.id).status == TaskResultStatus.READY and runs("std-add") == 0


def test_a_failure_is_retried_by_the_queue_policy_then_failed_with_its_errors(run_worker):
    result = standard_tasks.refuse.enqueue("no")
    for _ in range(5):
        JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
        sweep()
        run_worker("default")
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 4  # 1 + the default 3 retries
    assert [e.exception_class for e in result.errors] == [standard_tasks.Refused] * 4
    assert "Refused: no" in result.errors[0].traceback
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value


def test_the_context_sees_the_attempt(run_worker):
    result = standard_tasks.attempt_number.enqueue(fail_until=1)
    run_worker("default")
    JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
    sweep()
    run_worker("default")
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 2
    assert [e.exception_class for e in result.errors] == [RuntimeError]


def test_enqueue_inside_a_rolled_back_transaction_enqueues_nothing(run_worker):
    with pytest.raises(RuntimeError), transaction.atomic():
        standard_tasks.add.enqueue(1, 1)
        raise RuntimeError("the request failed")
    assert not JobRecord.objects.exists()
    run_worker("default")
    assert runs("std-add") == 0


def test_a_worker_that_never_imported_the_module_finds_the_task_by_its_path():
    assert find_task("tests.standard_tasks.greet").queue == "emails"
    assert find_task("os.path.join") is None and find_task("antigravity.fly") is None  # only the project's code


def test_bad_use_is_refused_as_the_standard_api_says():
    with pytest.raises(InvalidTaskError, match="Queue 'nowhere' is not valid"):
        standard_tasks.add.using(queue_name="nowhere")
    with pytest.raises(InvalidTaskError, match="priority"):
        standard_tasks.add.using(priority=500)
    with pytest.raises(TaskResultDoesNotExist):
        standard_tasks.add.get_result("not-a-job")
    job = enqueue("test.count")  # a Conveyor task's job is not a standard task's result
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(str(job.pk))


def test_both_kinds_of_task_live_side_by_side(run_worker):
    standard = standard_tasks.add.enqueue(4, 4)
    own = enqueue("test.count", ["side"])
    run_worker("default")
    assert standard_tasks.add.get_result(standard.id).return_value == 8
    own.refresh_from_db()
    assert own.state == State.SUCCEEDED and runs("side") == 1
