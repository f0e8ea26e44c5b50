"""/metrics for Prometheus (prometheus_client), protected.

Collected at scrape time from the same cheap reads as the dashboard: queue depths by state
(index range scans), the per-queue totals folded in by the rollups (counters: they only ever
grow, minute by minute), a run-time histogram, retries, the dead-letter size and worker
heartbeats. Authorisation: ``Authorization: Bearer <METRICS_TOKEN>``, or the API token
(``Authorization: Token <key>``) of a user with ``jobs.view_queuestate``, the permission the
queue screens need. The route runs the lean "health" middleware group.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from access.rules import has
from api.auth import TokenAuthentication
from jobs.models import QueueTotals, WorkerHeartbeat
from jobs.ops import metrics, selectors

STATES = ("waiting", "scheduled", "running", "retrying", "dead")


class ConveyorCollector:
    def collect(self):
        stats = selectors.queue_stats()
        jobs = GaugeMetricFamily(
            "conveyor_queue_jobs", "Jobs in a queue by state (dead: the dead-letter queue).", labels=["queue", "state"]
        )
        paused = GaugeMetricFamily("conveyor_queue_paused", "1 if the queue is paused.", labels=["queue"])
        oldest = GaugeMetricFamily("conveyor_queue_oldest_waiting_seconds", "Age of the oldest waiting job.", labels=["queue"])
        for q in stats:
            for state in STATES:
                jobs.add_metric([q["name"], state], q[state])
            paused.add_metric([q["name"]], 1 if q["paused"] else 0)
            oldest.add_metric([q["name"]], q["oldest_waiting_seconds"] or 0)
        yield jobs
        yield paused
        yield oldest
        yield GaugeMetricFamily(
            "conveyor_dead_letter_jobs", "Jobs in the dead-letter queue, all queues.", value=sum(q["dead"] for q in stats)
        )

        finished = CounterMetricFamily(
            "conveyor_jobs_finished", "Jobs finished, by outcome (rolled up per minute).", labels=["queue", "outcome"]
        )
        retries = CounterMetricFamily("conveyor_job_retries", "Failed attempts before the final one, of finished jobs.", labels=["queue"])
        runtime = HistogramMetricFamily("conveyor_job_runtime_seconds", "Run time of the final attempt of finished jobs.", labels=["queue"])
        for totals in QueueTotals.objects.order_by("queue"):
            finished.add_metric([totals.queue, "succeeded"], totals.succeeded)
            finished.add_metric([totals.queue, "dead"], totals.dead)
            retries.add_metric([totals.queue], totals.retries)
            counts = totals.buckets or [0] * (len(metrics.RUNTIME_BUCKETS) + 1)
            cumulative, running = [], 0
            for bound, count in zip([*map(str, metrics.RUNTIME_BUCKETS), "+Inf"], counts):
                running += count
                cumulative.append((bound, running))
            runtime.add_metric([totals.queue], buckets=cumulative, sum_value=totals.runtime_sum)
        yield finished
        yield retries
        yield runtime

        now = timezone.now()
        age = GaugeMetricFamily("conveyor_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat.", labels=["worker"])
        done = GaugeMetricFamily("conveyor_worker_jobs_done", "Jobs a worker has run since it started.", labels=["worker"])
        alive = 0
        for worker in WorkerHeartbeat.objects.all():
            seconds = (now - worker.last_seen).total_seconds()
            alive += seconds < settings.WORKER_LOST_AFTER
            age.add_metric([worker.name], seconds)
            done.add_metric([worker.name], worker.jobs_done)
        yield age
        yield done
        yield GaugeMetricFamily("conveyor_workers_alive", "Workers with a fresh heartbeat.", value=alive)


def _authorised(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and settings.METRICS_TOKEN:
        return hmac.compare_digest(credential.strip().encode(), settings.METRICS_TOKEN.encode())
    if scheme.lower() == "token":
        try:
            found = TokenAuthentication().authenticate(Request(request))
        except (AuthenticationFailed, Throttled):
            return False
        return bool(found and has(found[0], "jobs.view_queuestate"))
    return False


@never_cache
@require_GET
def metrics_view(request):
    if not _authorised(request):
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>, or the API token of a user with the jobs.view_queuestate permission.\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConveyorCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
