"""The job state machine: every allowed transition, in one place.

    scheduled ─┐
    pending ───┼─> queued ──> running ──> succeeded
       ^       │      │          ├──────> retrying ──> queued (after backoff)
       │       │      │          └──────> dead (dead-letter; requeue → pending)
       └───────┴──────┴─> cancelled (from any waiting state; a running job
                              stops at its next progress report when asked)

``pending``: row written, not yet handed to Redis. Workers claim a job only from a
*waiting* state, with one conditional UPDATE, so a duplicate delivery of the
same job (two dispatchers, a re-dispatch after Redis lost data) cannot run it twice.
"""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    PENDING = "pending", "Pending"
    SCHEDULED = "scheduled", "Scheduled"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead"
    CANCELLED = "cancelled", "Cancelled"


WAITING = frozenset({State.PENDING, State.SCHEDULED, State.QUEUED, State.RETRYING})
TERMINAL = frozenset({State.SUCCEEDED, State.DEAD, State.CANCELLED})
ACTIVE = WAITING | {State.RUNNING}

TRANSITIONS: dict[str, frozenset[str]] = {
    State.PENDING: frozenset({State.QUEUED, State.RUNNING, State.CANCELLED}),
    State.SCHEDULED: frozenset({State.QUEUED, State.RUNNING, State.CANCELLED}),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED, State.PENDING}),
    State.RETRYING: frozenset({State.QUEUED, State.RUNNING, State.CANCELLED}),
    State.RUNNING: frozenset({State.SUCCEEDED, State.RETRYING, State.DEAD, State.CANCELLED}),
    State.SUCCEEDED: frozenset(),
    State.DEAD: frozenset({State.PENDING}),
    State.CANCELLED: frozenset({State.PENDING}),
}


class IllegalTransition(ValueError):
    pass


class StateMachine:
    """A model's state table and its one way to move rows: a conditional UPDATE on the source
    states (compare-and-set), refused before it runs if the table does not allow the move.
    Jobs, payouts, reports, imports and notifications each declare one (``STATES`` on the
    model); their services move rows only through it. Pure: it calls the queryset it is
    given and imports no ORM."""

    def __init__(self, name: str, table: dict, field: str = "state"):
        self.name, self.table, self.field = name, {k: frozenset(v) for k, v in table.items()}, field

    def check(self, sources, target: str) -> None:
        """Raise IllegalTransition unless every state in ``sources`` may move to ``target``."""
        bad = [s for s in sources if target not in self.table[s]]
        if bad:
            raise IllegalTransition(f"cannot move a {self.name} from {', '.join(sorted(bad))} to {target}")

    def move(self, queryset, sources, target: str, **fields) -> int:
        """Move the rows of ``queryset`` that are in ``sources`` to ``target``; returns how many
        moved, so concurrent callers cannot both make the same move."""
        sources = frozenset(sources)
        self.check(sources, target)
        return queryset.filter(**{f"{self.field}__in": sources}).update(**{self.field: target}, **fields)

    def sources_of(self, target: str) -> frozenset:
        """Every state the table lets move to ``target``."""
        return frozenset(s for s, targets in self.table.items() if target in targets)


JOB_STATES = StateMachine("job", TRANSITIONS)


def check_transition(sources, target: str) -> None:
    """Raise IllegalTransition unless every job state in ``sources`` may move to ``target``."""
    JOB_STATES.check(sources, target)


def transition(queryset, sources, target: str, **fields) -> int:
    """Conditionally move the job rows in ``queryset`` that are in ``sources`` to ``target``
    (only jobs.store calls this: ruff's banned-api rule)."""
    return JOB_STATES.move(queryset, sources, target, **fields)
