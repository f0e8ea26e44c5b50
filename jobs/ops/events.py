"""Relaying job events to the stream (jobs.transport.events) from the attempt rows.

Every attempt's end is already a row (JobAttempt), written in the transaction that changed the
job: that table is the outbox. Each scheduler pass (the ``events`` duty) reads the attempts
after the relay's cursor in id order and writes one event per attempt. Ids are handed out
before commit, so a lower id can commit after a higher one: the cursor stops before a gap
until the rows after it are SETTLE seconds old (a rolled-back insert leaves a gap for good);
rows past a gap are written already and skipped when read again (the stream's dedupe set).
Several schedulers may relay at once: the same dedupe makes each attempt one event.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from jobs.core.states import TERMINAL, State
from jobs.models import JobAttempt
from jobs.ops import webhooks
from jobs.transport import events

log = logging.getLogger(__name__)

SETTLE = timedelta(seconds=5)  # how long an id gap may still be filled by a slow commit
BATCH = 2000  # attempts per pass
TYPES = {
    JobAttempt.Outcome.SUCCEEDED: "completed",
    JobAttempt.Outcome.FAILED: "failed",
    JobAttempt.Outcome.TIMED_OUT: "failed",
    JobAttempt.Outcome.WORKER_LOST: "failed",
    JobAttempt.Outcome.CANCELLED: "cancelled",
    JobAttempt.Outcome.DEFERRED: "deferred",
}
FIELDS = (
    "id",
    "job_id",
    "number",
    "outcome",
    "finished_at",
    "worker_name",
    "exc_type",
    "exc_message",
    "job__task_name",
    "job__queue",
    "job__state",
    "job__total_attempts",
)


def relay(now=None) -> int:
    """One pass: write the events of attempts not written yet. Returns how many were written."""
    now = now or timezone.now()
    cursor = events.relay_cursor()
    if cursor is None:  # first start, or Redis lost its data: from now on, not the whole history
        newest = JobAttempt.objects.order_by("-id").values_list("id", flat=True).first() or 0
        events.write_relayed([], newest)
        return 0
    rows = list(JobAttempt.objects.filter(id__gt=cursor).order_by("id").values(*FIELDS)[:BATCH])
    if not rows:
        return 0
    expected, settled, blocked = cursor + 1, cursor, False
    for row in rows:
        if row["id"] != expected and now - row["finished_at"] < SETTLE:
            blocked = True  # ids below this one may still commit: hold the cursor here
        if not blocked:
            settled = row["id"]
        expected = row["id"] + 1
    found = [(row["id"], _event(row)) for row in rows]
    written = events.write_relayed(found, settled)
    webhooks.fan_out([event for _, event in found])  # once per endpoint and event, however often read
    return written


def _event(row: dict) -> dict:
    final = row["job__state"] in TERMINAL and row["number"] == row["job__total_attempts"]
    event = {
        "id": f"a{row['id']}",  # the attempt's: stable, a receiver's idempotency key
        "type": TYPES.get(row["outcome"], row["outcome"]),
        "job_id": str(row["job_id"]),
        "task": row["job__task_name"],
        "queue": row["job__queue"],
        "attempt": row["number"],
        "outcome": row["outcome"],
        "final": final,
        "at": row["finished_at"].isoformat(),
        "worker": row["worker_name"],
    }
    if row["outcome"] != JobAttempt.Outcome.SUCCEEDED and row["exc_type"]:
        event["error"] = f"{row['exc_type']}: {row['exc_message']}"[:500]
    if final:
        event["state"] = row["job__state"]
    elif row["job__state"] in (State.RETRYING, State.QUEUED, State.PENDING):
        event["will_retry"] = row["outcome"] != JobAttempt.Outcome.DEFERRED
    return event
