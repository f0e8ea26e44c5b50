"""Concurrency caps and rate limits hold across two real worker processes."""

import pytest

from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import JobSpec, enqueue_many
from tests.reliability.procs import Processes, finished, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_cap_of_one_never_overlaps_and_the_other_worker_takes_other_work():
    procs = Processes(QUEUE_OVERRIDES='{"daily_reports": {"concurrency": 1, "rate_limit": null}}')
    try:
        capped = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.4}, queue="daily_reports") for _ in range(6)])
        quick = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.02}, queue="default") for _ in range(30)])
        procs.worker("daily_reports", "default")
        procs.worker("daily_reports", "default")
        wait_for(lambda: finished(capped + quick), timeout=60, interval=0.1, message="all jobs")

        runs = sorted(JobRecord.objects.filter(pk__in=[j.pk for j in capped]).values_list("started_at", "finished_at"))
        for (_, end), (start, _) in zip(runs, runs[1:]):
            assert start >= end, "two daily_reports jobs ran at the same time"
        last_capped_end = runs[-1][1]
        quick_ends = JobRecord.objects.filter(pk__in=[j.pk for j in quick]).values_list("finished_at", flat=True)
        assert max(quick_ends) < last_capped_end, "the free worker waited instead of taking other work"
        procs.assert_no_run_after_success(capped + quick)
    finally:
        procs.stop_all()


def test_rate_limit_is_global_across_workers_and_held_jobs_only_wait():
    procs = Processes(QUEUE_OVERRIDES='{"reports": {"rate_limit": [4, 1]}}')
    try:
        jobs = enqueue_many([JobSpec("test.chaos", kwargs={"seconds": 0.01}, queue="reports") for _ in range(12)])
        procs.worker("reports")
        procs.worker("reports")
        wait_for(lambda: finished(jobs), timeout=60, interval=0.1, message="all jobs")
        starts = sorted(t for times in procs.starts().values() for t in times)
        assert len(starts) == 12
        for first, fifth in zip(starts, starts[4:]):
            assert fifth - first >= 0.95, "more than 4 starts within one second"
        assert starts[-1] - starts[0] >= 1.9  # 12 jobs at 4/s need at least two full windows
        assert set(JobRecord.objects.values_list("state", "attempts")) == {(State.SUCCEEDED, 1)}
        assert len(jobs) == 12
    finally:
        procs.stop_all()
