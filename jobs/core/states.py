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


def check_transition(sources, target: str) -> None:
    """Raise IllegalTransition unless every state in ``sources`` may move to ``target``."""
    bad = [s for s in sources if target not in TRANSITIONS[s]]
    if bad:
        raise IllegalTransition(f"cannot move a job from {', '.join(sorted(bad))} to {target}")


def transition(queryset, sources, target: str, **fields) -> int:
    """Conditionally move the rows in ``queryset`` that are in ``sources`` to ``target``.

    Returns how many rows moved. The WHERE clause on state makes it a
    compare-and-set: concurrent callers cannot both move the same row.
    """
    sources = frozenset(sources)
    check_transition(sources, target)
    return queryset.filter(state__in=sources).update(state=target, **fields)
