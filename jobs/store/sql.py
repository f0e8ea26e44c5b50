"""The two statements every job runs, written by hand because they are the hot path.

* claim: one ``UPDATE ... RETURNING`` moves waiting, due rows (one, or a worker's whole
  batch) to ``running`` and returns what the worker needs (the ORM would need a SELECT and
  an UPDATE).
* success: on PostgreSQL one statement (a data-modifying CTE) marks the row
  succeeded and inserts its attempt; elsewhere two statements in a transaction.

Both keep the state machine's rules (see jobs/states.py): the claim only takes
rows in a waiting state, and the success only lands on the row still running
this attempt. PostgreSQL and SQLite (3.35+) both support RETURNING.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.db import connections, models, transaction

from jobs.core.states import WAITING, State, check_transition
from jobs.models import JobAttempt, JobRecord

check_transition(WAITING, State.RUNNING)
check_transition({State.RUNNING}, State.SUCCEEDED)

# What a worker needs of a claimed job (Claimed, besides pk); a rescue reads the same fields.
CLAIMED_FIELDS = (
    "task_name",
    "queue",
    "args",
    "kwargs",
    "attempts",
    "max_attempts",
    "total_attempts",
    "timeout",
    "correlation_id",
    "retry_policy",
)


@dataclass
class Claimed:
    pk: uuid.UUID
    task_name: str
    queue: str
    args: list
    kwargs: dict
    attempts: int
    max_attempts: int
    total_attempts: int
    timeout: int
    correlation_id: str
    retry_policy: dict | None


def _connection():
    return connections[JobRecord.objects.db]


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def claim(job_id, worker_name: str, now, due_by) -> Claimed | None:
    pk = uuid.UUID(str(job_id))
    return claim_many([pk], worker_name, now, due_by).get(pk)


def claim_many(job_ids, worker_name: str, now, due_by) -> dict[uuid.UUID, Claimed]:
    """Claim every one of these rows that is waiting and due, in one statement. Returns the
    claimed ones by id; the others (not waiting, not due, claimed elsewhere) are absent.

    On PostgreSQL a claim in its own transaction commits without waiting for its WAL flush
    (``synchronous_commit`` off for that transaction only; decision 55): the claim is not an
    outcome. Any later durable commit (the job's outcome, a write of its body) flushes it too,
    and a database crash that loses it only puts the row back to waiting, so the job is
    delivered again: at least once, as after a worker's crash. Inside a caller's transaction
    the clause is left out, so nothing else the caller writes loses its durability."""
    pks = [uuid.UUID(str(job_id)) for job_id in job_ids]
    if not pks:
        return {}
    connection = _connection()
    ops = connection.ops
    waiting = sorted(WAITING)
    relaxed = connection.vendor == "postgresql" and connection.get_autocommit()  # off inside atomic()
    query = (
        f"UPDATE {ops.quote_name(JobRecord._meta.db_table)} SET state = %s, attempts = attempts + 1, "
        "total_attempts = total_attempts + 1, started_at = %s, finished_at = NULL, worker_name = %s, "
        "progress = 0, progress_message = '' "
        + ("FROM (SELECT set_config('synchronous_commit', 'off', true)) AS claim_commit " if relaxed else "")
        + f"WHERE id IN ({', '.join(['%s'] * len(pks))}) AND state IN ({', '.join(['%s'] * len(waiting))}) "
        "AND (run_at IS NULL OR run_at <= %s) "
        f"RETURNING id, {', '.join(CLAIMED_FIELDS)}"
    )
    params = [
        State.RUNNING.value,
        ops.adapt_datetimefield_value(now),
        worker_name,
        *[JobRecord._meta.pk.get_db_prep_value(pk, connection) for pk in pks],
        *[s.value for s in waiting],
        ops.adapt_datetimefield_value(due_by),
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    claimed = {}
    for row in rows:
        values = dict(zip(CLAIMED_FIELDS, row[1:]))
        for name in ("args", "kwargs", "retry_policy"):
            values[name] = _json(values[name])
        pk = row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0]))
        claimed[pk] = Claimed(pk=pk, **values)
    return claimed


def record_success(record: Claimed, started, finished, worker_name: str, result) -> bool:
    """Mark the claimed attempt succeeded and insert its JobAttempt. False if the row was taken over."""
    connection = _connection()
    ops = connection.ops
    job_table = ops.quote_name(JobRecord._meta.db_table)
    attempt_table = ops.quote_name(JobAttempt._meta.db_table)
    pk = JobRecord._meta.pk.get_db_prep_value(record.pk, connection)
    result_value = JobRecord._meta.get_field("result").get_db_prep_value(result, connection)
    started, finished = ops.adapt_datetimefield_value(started), ops.adapt_datetimefield_value(finished)
    update = (
        f"UPDATE {job_table} SET state = %s, finished_at = %s, result = %s, progress = 100, last_error = '', run_at = NULL "
        "WHERE id = %s AND state = %s AND attempts = %s"
    )
    update_params = [State.SUCCEEDED.value, finished, result_value, pk, State.RUNNING.value, record.attempts]
    insert_columns = "(job_id, number, started_at, finished_at, outcome, worker_name, exc_type, exc_message, traceback)"
    attempt_params = [record.total_attempts, started, finished, JobAttempt.Outcome.SUCCEEDED.value, worker_name]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH moved AS ({update} RETURNING id) INSERT INTO {attempt_table} {insert_columns} "
                "SELECT id, %s, %s, %s, %s, %s, '', '', '' FROM moved",
                update_params + attempt_params,
            )
            return cursor.rowcount == 1
        with transaction.atomic(using=connection.alias):
            cursor.execute(update, update_params)
            if cursor.rowcount != 1:
                return False
            cursor.execute(
                f"INSERT INTO {attempt_table} {insert_columns} VALUES (%s, %s, %s, %s, %s, %s, '', '', '')", [pk, *attempt_params]
            )
            return True


def record_successes(outcomes: list[tuple], worker_name: str) -> set[uuid.UUID]:
    """record_success for several jobs in one transaction: ``outcomes`` holds (claimed row,
    started, finished, result). Returns the ids recorded (each only if its row still runs that
    attempt). PostgreSQL: one statement for all; elsewhere two statements a job, one commit."""
    if not outcomes:
        return set()
    connection = _connection()
    if connection.vendor != "postgresql":
        with transaction.atomic(using=connection.alias):
            return {
                record.pk
                for record, started, finished, result in outcomes
                if record_success(record, started, finished, worker_name, result)
            }
    ops = connection.ops
    job_table = ops.quote_name(JobRecord._meta.db_table)
    attempt_table = ops.quote_name(JobAttempt._meta.db_table)
    result_field = JobRecord._meta.get_field("result")
    rows, params = [], []
    for record, started, finished, result in outcomes:
        rows.append("(%s::uuid, %s::integer, %s::integer, %s::timestamptz, %s::timestamptz, %s::jsonb)")
        params += [
            record.pk,
            record.attempts,
            record.total_attempts,
            ops.adapt_datetimefield_value(started),
            ops.adapt_datetimefield_value(finished),
            result_field.get_db_prep_value(result, connection),
        ]
    query = (
        f"WITH done (id, attempts, number, started, finished, result) AS (VALUES {', '.join(rows)}), "
        f"moved AS (UPDATE {job_table} AS job SET state = %s, finished_at = done.finished, result = done.result, "
        "progress = 100, last_error = '', run_at = NULL FROM done "
        "WHERE job.id = done.id AND job.state = %s AND job.attempts = done.attempts "
        "RETURNING job.id, done.number, done.started, done.finished) "
        f"INSERT INTO {attempt_table} (job_id, number, started_at, finished_at, outcome, worker_name, exc_type, exc_message, traceback) "
        "SELECT id, number, started, finished, %s, %s, '', '', '' FROM moved RETURNING job_id"
    )
    params += [State.SUCCEEDED.value, State.RUNNING.value, JobAttempt.Outcome.SUCCEEDED.value, worker_name]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(query, params)
        return {row[0] for row in cursor.fetchall()}


def bulk_insert_jobs(records: list[JobRecord], ignore_conflicts: bool) -> set | None:
    """Insert JobRecords, several times faster than bulk_create for a large fan-out (which
    prepares every value of every row through its field in Python). PostgreSQL: up to
    SMALL_INSERT rows in one INSERT ... VALUES, more by COPY into a session-local staging
    table, then one INSERT ... SELECT. SQLite: one executemany.
    Other databases: bulk_create. Returns the ids inserted where the database says so in the
    same statement (PostgreSQL), else None."""
    connection = _connection()
    fields = list(JobRecord._meta.concrete_fields)
    if connection.vendor == "postgresql":
        if len(records) <= SMALL_INSERT:
            return _pg_values_insert(connection, records, ignore_conflicts)
        return _pg_copy_insert(connection, fields, records, ignore_conflicts)
    if connection.vendor == "sqlite":
        _sqlite_insert(connection, fields, records, ignore_conflicts)
    else:
        JobRecord.objects.bulk_create(records, batch_size=1000, ignore_conflicts=ignore_conflicts)
    return None


SMALL_INSERT = 20  # rows: up to this many, one INSERT ... VALUES beats COPY's staging round trips


def _pg_values_insert(connection, records, ignore_conflicts: bool) -> set:
    """A few rows (one API enqueue, a schedule's fire): one INSERT ... VALUES ... RETURNING, a
    single round trip where COPY through the staging table takes five. The statement is built
    once per row count; values are bound server-side (psycopg's own C dumpers, where Django's
    default client-side binding quotes every value in Python) and prepared only as Django's
    OPTIONS allow (``prepare_threshold``; off by default, for connection poolers)."""
    import psycopg  # noqa: PLC0415  (PostgreSQL only)

    query = _pg_values_sql(len(records), ignore_conflicts)
    params = [prep(getattr(record, name), connection) for record in records for name, prep in _pg_preparers()]
    connection.close_if_health_check_failed()  # as Django's own cursor() does (CONN_HEALTH_CHECKS)
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    # Django's own wrapper: its error translation, query logging and execute_wrappers still apply.
    with connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw) as cursor:
        cursor.execute(query, params)
        return {inserted for (inserted,) in cursor.fetchall()}


@cache
def _pg_values_sql(rows: int, ignore_conflicts: bool) -> str:
    quote = _connection().ops.quote_name
    fields = JobRecord._meta.concrete_fields
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {quote(JobRecord._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
        f"{', '.join([row] * rows)}{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} "
        f"RETURNING {quote(JobRecord._meta.pk.column)}"
    )


_PASS_THROUGH = (models.UUIDField, models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.ForeignKey)


@cache
def _pg_preparers() -> list[tuple[str, Callable]]:
    """(attname, (value, connection) -> database value) per column: what Field.get_db_prep_save
    gives for the values enqueue builds, at a tenth of its cost (it runs every field's
    to_python and checks)."""

    def preparer(field):
        if isinstance(field, models.JSONField):
            return lambda v, connection: None if v is None else connection.ops.adapt_json_value(v, field.encoder)
        if isinstance(field, models.DateTimeField):  # aware datetimes go as they are; others through Django
            return lambda v, connection: v if v is None or v.tzinfo is not None else field.get_db_prep_save(v, connection)
        if isinstance(field, _PASS_THROUGH):
            return _same
        return field.get_db_prep_save

    return [(f.attname, preparer(f)) for f in JobRecord._meta.concrete_fields]


def _same(value, connection):
    return value


def _pg_copy_insert(connection, fields, records, ignore_conflicts: bool) -> set:
    """COPY is the fastest way into PostgreSQL (10,000 jobs in about 0.35 s here, against 0.7 s
    for one INSERT of unnest()ed arrays), but it cannot skip conflicts, so rows go through a
    temporary table. Its name carries the column list, so a process that outlives a migration
    never copies into a stale shape; its rows are deleted after use and at commit."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    stage = "conveyor_stage_" + hashlib.sha1(columns.encode()).hexdigest()[:10]
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    jsons = {i for i, f in enumerate(fields) if f.get_internal_type() == "JSONField"}
    attnames = [f.attname for f in fields]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
            f"(LIKE {quote(JobRecord._meta.db_table)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for record in records:
                row = [getattr(record, name) for name in attnames]
                for i in jsons:
                    if row[i] is not None:
                        row[i] = json.dumps(row[i])
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {quote(JobRecord._meta.db_table)} ({columns}) "
            f"SELECT {columns} FROM {stage}{conflict} RETURNING {quote(JobRecord._meta.pk.column)}"
        )
        inserted = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {stage}")
    return inserted


def _sqlite_insert(connection, fields, records, ignore_conflicts: bool) -> None:
    ops = connection.ops
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
    query = f"{verb} INTO {ops.quote_name(JobRecord._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    kinds = [f.get_internal_type() for f in fields]
    stamps = {}  # a fan-out shares one created_at: adapt each distinct datetime once

    def value(kind, v):
        if v is None:
            return None
        if kind == "JSONField":
            return json.dumps(v)
        if kind == "UUIDField":
            return v.hex
        if kind == "DateTimeField":
            if v not in stamps:
                stamps[v] = ops.adapt_datetimefield_value(v)
            return stamps[v]
        return v

    rows = [[value(kind, getattr(r, f.attname)) for f, kind in zip(fields, kinds)] for r in records]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:  # one commit, not one per row
        cursor.executemany(query, rows)
