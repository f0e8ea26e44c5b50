import pytest

from jobs.core.states import ACTIVE, TERMINAL, TRANSITIONS, WAITING, IllegalTransition, State, check_transition, transition
from jobs.models import JobRecord
from notifications.models import Notification
from payouts.models import Payout
from reports.models import Import, Report


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


def _machines():
    return [Payout, Report, Import, Notification]


@pytest.mark.parametrize("model", _machines(), ids=lambda m: m.__name__)
def test_every_state_backed_model_declares_a_machine_over_all_its_states(model):
    """One way to move any model's state: each declares STATES over exactly its choices."""
    assert set(model.STATES.table) == set(model.State.values)
    for targets in model.STATES.table.values():
        assert targets <= set(model.State.values)


@pytest.mark.django_db
def test_a_state_machine_refuses_what_its_table_does_not_allow_and_moves_once():
    report = Report.objects.create(kind=Report.Kind.PAYOUT_SUMMARY, parameters={})
    rows = Report.objects.filter(pk=report.pk)
    with pytest.raises(IllegalTransition, match="cannot move a report from requested to expired"):
        Report.STATES.move(rows, {Report.State.REQUESTED}, Report.State.EXPIRED)
    assert Report.STATES.move(rows, {Report.State.REQUESTED}, Report.State.FAILED, error="x") == 1
    assert Report.STATES.move(rows, {Report.State.REQUESTED}, Report.State.FAILED, error="y") == 0  # compare-and-set
    report.refresh_from_db()
    assert (report.state, report.error) == (Report.State.FAILED, "x")
