"""ConveyorWorker: the RQ worker class behind ``manage.py rqworker``.

Selected by settings.RQ["WORKER_CLASS"]; run as

    python manage.py rqworker payouts notifications default

It listens to every priority tier of the named queues, tier-major, and runs
each job in-process (no fork per job; see docs/decisions.md). The database row,
not RQ's job hash, holds the job's state: ``jobs.runtime.execute`` claims it,
runs the task under its timeout and records the outcome, retry or dead-letter.
RQ is told every delivered job finished, so its registries only ever describe
transport, and results are not duplicated into Redis.

Stock RQ spends ~26 Redis round trips per job; most are bookkeeping that this
worker batches: standalone heartbeats are sent at most every HEARTBEAT_EVERY
seconds (the worker key lives for worker_ttl, minutes), unchanged worker states
are not rewritten, and a finished job's transport keys go in one pipeline.
"""
from __future__ import annotations

import logging
import sys
import time

from django.conf import settings
from django.db import close_old_connections
from rq.job import JobStatus
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from jobs import runtime
from jobs.queues import logical_queue_name, tiered_rq_names

log = logging.getLogger(__name__)


HEARTBEAT_EVERY = 5.0


class ConveyorWorker(SimpleWorker):
    log_job_description = False
    _last_beat = float("-inf")

    def __init__(self, queues, *args, **kwargs):
        super().__init__(queues, *args, **kwargs)
        self.queues = self._tiered(self.queues)
        self._ordered_queues = self.queues[:]

    def _tiered(self, queues):
        """Replace each logical queue by its four tier lists, tier-major; keep explicit tier lists as given."""
        logical = [q.name for q in queues if q.name in settings.CONVEYOR_QUEUES]
        extra = [q for q in queues if q.name not in settings.CONVEYOR_QUEUES]
        names = tiered_rq_names(list(dict.fromkeys(logical)))
        connection = queues[0].connection
        tiered = [self.queue_class(name, connection=connection, job_class=self.job_class, serializer=self.serializer) for name in names]
        return tiered + [q for q in extra if logical_queue_name(q.name) not in logical]

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is None and timeout is None and time.monotonic() - self._last_beat < HEARTBEAT_EVERY:
            return
        self._last_beat = time.monotonic()
        super().heartbeat(timeout, pipeline)

    def set_state(self, state, pipeline=None):
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def perform_job(self, job, queue, execution) -> bool:
        close_old_connections()
        try:
            self.prepare_job_execution(job, remove_from_intermediate_queue=len(self.queues) == 1)
            job.started_at = now()
            runtime.execute(job.id, worker_name=self.name, death_penalty_class=self.death_penalty_class)
            job.ended_at = now()
            job._status = JobStatus.FINISHED
            self._finish_transport(job, execution)
        except Exception:
            # Infrastructure trouble (database or Redis), not the task's own failure:
            # RQ records it; the row stays as it was and the recovery sweep takes over.
            log.exception("job %s: could not be run or recorded", job.id)
            self._finalize_failure(job, queue, execution, sys.exc_info())
            return False
        finally:
            close_old_connections()
        return True

    def _finish_transport(self, job, execution) -> None:
        """What RQ's handle_job_success does for a result_ttl=0 job without dependents, in one round trip."""
        with self.connection.pipeline() as pipe:
            self.increment_successful_job_count(pipeline=pipe)
            self.increment_total_working_time(job.ended_at - job.started_at, pipe)
            execution.delete(job=job, pipeline=pipe)
            pipe.delete(job.key, job.dependents_key, job.dependencies_key, job.execution_registry.key)
            self.set_state(WorkerStatus.IDLE, pipeline=pipe)
            pipe.execute()
