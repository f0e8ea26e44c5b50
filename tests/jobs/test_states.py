import pytest

from jobs.core.states import ACTIVE, TERMINAL, TRANSITIONS, WAITING, IllegalTransition, State, check_transition, transition
from jobs.models import JobRecord


def test_table_covers_every_state_and_terminal_states_only_restart():
    assert set(TRANSITIONS) == set(State)
    assert TRANSITIONS[State.SUCCEEDED] == frozenset()
    for state in (State.DEAD, State.CANCELLED):
        assert TRANSITIONS[state] == {State.PENDING}
    assert WAITING | {State.RUNNING} == ACTIVE and not (ACTIVE & TERMINAL)


@pytest.mark.parametrize(
    "source, target",
    [(State.SUCCEEDED, State.QUEUED), (State.RUNNING, State.QUEUED), (State.DEAD, State.RUNNING), (State.QUEUED, State.SUCCEEDED)],
)
def test_illegal_transitions_raise(source, target):
    with pytest.raises(IllegalTransition):
        check_transition({source}, target)


@pytest.mark.django_db
def test_transition_is_compare_and_set():
    job = JobRecord.objects.create(task_name="test.count", queue="default", state=State.QUEUED, timeout=5)
    rows = JobRecord.objects.filter(pk=job.pk)
    assert transition(rows, {State.QUEUED}, State.RUNNING) == 1
    assert transition(rows, {State.QUEUED}, State.RUNNING) == 0  # a second claimer loses
    job.refresh_from_db()
    assert job.state == State.RUNNING
