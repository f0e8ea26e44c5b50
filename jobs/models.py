from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from jobs.core import timing
from jobs.core.queues import Priority
from jobs.core.states import ACTIVE, State
from jobs.fields import SafeJSONDecoder

TRACEBACK_LIMIT = 16_000
ERROR_LIMIT = 2_000


class JobRecord(models.Model):
    """One job: the source of truth. Redis only carries its id to a worker."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task_name = models.CharField(max_length=200)
    queue = models.CharField(max_length=64)
    args = models.JSONField(default=list, blank=True, decoder=SafeJSONDecoder)
    kwargs = models.JSONField(default=dict, blank=True, decoder=SafeJSONDecoder)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    priority = models.PositiveSmallIntegerField(choices=[(p.value, p.name.title()) for p in Priority], default=Priority.NORMAL)

    attempts = models.PositiveIntegerField(default=0, help_text="Attempts in the current chain (reset by a requeue).")
    max_attempts = models.PositiveIntegerField(default=1)
    total_attempts = models.PositiveIntegerField(default=0, help_text="Attempts over the job's whole life.")
    retry_policy = models.JSONField(null=True, blank=True, help_text="Per-enqueue override of the task's policy.")
    timeout = models.PositiveIntegerField(help_text="Seconds one attempt may run.")

    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    result = models.JSONField(null=True, blank=True, decoder=SafeJSONDecoder)
    last_error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False, help_text="Staff asked a running job to stop at its next progress report.")

    created_at = models.DateTimeField(auto_now_add=True)
    run_at = models.DateTimeField(null=True, blank=True, help_text="Earliest start (scheduled) or next retry.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker_name = models.CharField(max_length=255, blank=True)

    correlation_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject_type = models.CharField(max_length=32, blank=True, help_text='What the job is about, e.g. "user" or "payee".')
    subject_id = models.CharField(max_length=64, blank=True)
    dedup_key = models.CharField(
        max_length=255,
        null=True,
        blank=True,
        help_text="While a job with this key is active, enqueueing another returns it instead.",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("enqueue_task", "Can enqueue tasks by name (the tasks that allow it)")]
        constraints = [
            # The dedup window: one active job per key, enforced by the database for every producer.
            models.UniqueConstraint(fields=["dedup_key"], condition=models.Q(state__in=sorted(ACTIVE)), name="job_dedup_active"),
        ]
        indexes = [
            models.Index(fields=["state", "run_at"], name="job_state_run_at"),
            # Counts by queue and state; the finished_at suffix serves clean, retention and the
            # per-minute rates (a range scan per queue).
            models.Index(fields=["queue", "state", "finished_at"], name="job_queue_state_finished"),
            models.Index(fields=["subject_type", "subject_id", "-created_at"], name="job_subject"),
            models.Index(fields=["-created_at"], name="job_created"),
            # Plain indexes in Meta: a db_index CharField also gets a LIKE index on PostgreSQL,
            # which nothing here uses and every insert pays for.
            models.Index(fields=["task_name"], name="job_task_name"),
            models.Index(fields=["correlation_id"], name="job_correlation"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.state}] {self.id}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE


class JobAttempt(models.Model):
    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"
        WORKER_LOST = "worker_lost", "Worker lost"
        CANCELLED = "cancelled", "Cancelled while running"
        DEFERRED = "deferred", "Deferred (not counted)"

    job = models.ForeignKey(JobRecord, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveIntegerField(help_text="1-based, counted over the job's whole life.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    worker_name = models.CharField(max_length=255, blank=True)
    exc_type = models.CharField(max_length=255, blank=True)
    exc_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.job_id}: {self.outcome}"

    @property
    def duration_ms(self) -> int:
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


class JobBacked(models.Model):
    """A row a job produces (a report, an import): its state machine is the subclass's
    (``State``, ``STATES``), the rest is shared. ``jobs.ops.enqueue.enqueue_for`` creates its
    job and links it; the job's subject is the row."""

    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class DeadLetterJob(JobRecord):
    """The dead-letter queue: jobs out of attempts. Never removed automatically."""

    class Meta:
        proxy = True
        verbose_name = "dead-letter job"
        verbose_name_plural = "dead-letter queue"


class WorkerHeartbeat(models.Model):
    """One row per live worker process, refreshed every WORKER_HEARTBEAT_INTERVAL seconds.

    Kept in the database, not Redis, so that Redis losing its data cannot make a
    healthy worker look dead (and get its running job rescued and run twice).
    """

    name = models.CharField(max_length=255, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    current_job = models.UUIDField(null=True, blank=True)
    jobs_done = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} on {self.hostname}:{self.pid}"


class QueueState(models.Model):
    """Operator-controlled state of a queue. The database is the truth; Redis holds a mirror
    (the set ``conveyor:paused``) that workers read, re-synced by every dispatcher sweep."""

    name = models.CharField(max_length=64, primary_key=True)
    paused = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("pause_queue", "Can pause and resume queues")]

    def __str__(self) -> str:
        return f"{self.name} ({'paused' if self.paused else 'running'})"


class Schedule(models.Model):
    """A recurring job: a cron expression or a fixed interval, evaluated in its time zone."""

    class MissedFires(models.TextChoices):
        RUN_ONCE = "run_once", "Run once for all missed fires"
        SKIP = "skip", "Skip missed fires"

    name = models.CharField(max_length=100, unique=True)
    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True, decoder=SafeJSONDecoder)
    kwargs = models.JSONField(default=dict, blank=True, decoder=SafeJSONDecoder)
    queue = models.CharField(max_length=64, blank=True, help_text="Blank: the task's own queue.")
    priority = models.PositiveSmallIntegerField(
        choices=[(p.value, p.name.title()) for p in Priority], null=True, blank=True, help_text="Blank: the task's own priority."
    )
    cron = models.CharField(max_length=100, blank=True, help_text='Cron expression, e.g. "0 * * * *" (hourly) or "30 6 * * 1-5".')
    interval_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Or a fixed interval, in seconds.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="Time zone the cron expression is read in.")
    missed_fires = models.CharField(max_length=16, choices=MissedFires.choices, default=MissedFires.RUN_ONCE)
    enabled = models.BooleanField(default=True)
    next_fire_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_fire_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    declared_timing = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text=(
            "For a schedule an app declares (its schedules.py): the timing the code and settings gave it at the last migrate. "
            "While the schedule's own timing still equals it, a new declaration applies at the next migrate; once edited here, "
            "the schedule keeps its own."
        ),
    )

    _TIMING_FIELDS = ("cron", "interval_seconds", "timezone", "enabled")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.next_fire_at is None or self.timing_changed():
            self.next_fire_at = timing.next_fire_after(self, timing.now()) if self.enabled else None
        super().save(*args, **kwargs)

    def clean(self):
        timing.validate_schedule(self)

    def timing_changed(self) -> bool:
        """Whether the saved row's timing differs from this instance's (or there is no saved row)."""
        if self.pk is None:
            return True
        saved = Schedule.objects.filter(pk=self.pk).values(*self._TIMING_FIELDS).first()
        return saved is None or any(saved[f] != getattr(self, f) for f in self._TIMING_FIELDS)


class ScheduleFire(models.Model):
    """One fire of a schedule. Unique per (schedule, fire time): each fire happens exactly once."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="fires")
    fire_time = models.DateTimeField()
    job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    missed = models.PositiveIntegerField(default=0, help_text="Earlier fire times folded into this one (schedulers were down).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-fire_time"]
        constraints = [models.UniqueConstraint(fields=["schedule", "fire_time"], name="schedule_fire_once")]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.fire_time:%Y-%m-%d %H:%M:%S}"


class QueueMinute(models.Model):
    """Per queue and minute: jobs finished, retries, run times and the queue's depth. Written by
    the scheduler's rollup (jobs/metrics.py) from the jobs that finished in that minute, read by
    the dashboard and /metrics, so neither scans the job table. Provisional while recent jobs may
    still land in it; ``final`` once folded into QueueTotals. Kept METRICS_RETENTION seconds."""

    queue = models.CharField(max_length=64)
    minute = models.DateTimeField()
    succeeded = models.PositiveIntegerField(default=0)
    dead = models.PositiveIntegerField(default=0, help_text="Jobs that failed for good in this minute.")
    retries = models.PositiveIntegerField(default=0, help_text="Failed attempts before the final one, of the jobs that finished.")
    runtime_sum = models.FloatField(default=0.0)
    runtime_p50 = models.FloatField(null=True, blank=True)
    runtime_p95 = models.FloatField(null=True, blank=True)
    runtime_p99 = models.FloatField(null=True, blank=True)
    runtime_max = models.FloatField(null=True, blank=True)
    buckets = models.JSONField(default=list, help_text="Jobs per run-time bucket (jobs/metrics.py RUNTIME_BUCKETS, then +Inf).")
    waiting = models.PositiveIntegerField(null=True, blank=True, help_text="Queue depth when the minute was last rolled up.")
    final = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "minute"], name="queue_minute_unique")]
        indexes = [models.Index(fields=["minute"], name="queue_minute_minute")]

    def __str__(self) -> str:
        return f"{self.queue} {self.minute:%Y-%m-%d %H:%M}"


class QueueTotals(models.Model):
    """Counters since the start, per queue: each final QueueMinute is added once. /metrics
    exposes them as Prometheus counters and a run-time histogram."""

    queue = models.CharField(max_length=64, primary_key=True)
    succeeded = models.PositiveBigIntegerField(default=0)
    dead = models.PositiveBigIntegerField(default=0)
    retries = models.PositiveBigIntegerField(default=0)
    runtime_sum = models.FloatField(default=0.0)
    buckets = models.JSONField(default=list)
    through = models.DateTimeField(null=True, blank=True, help_text="The last minute folded in.")

    def __str__(self) -> str:
        return f"{self.queue} totals"


EVENT_TYPES = ("completed", "failed", "cancelled", "deferred")


class WebhookEndpoint(models.Model):
    """Where staff want job events sent (jobs.ops.webhooks): an HTTPS URL, which events of
    which queues or tasks, and the secret that signs each delivery (docs/events.md)."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="HTTPS in production; each delivery is a signed POST here.")
    events = models.JSONField(default=list, blank=True, help_text=f"Event types to send (empty: all of {', '.join(EVENT_TYPES)}).")
    queues = models.JSONField(default=list, blank=True, help_text="Only jobs of these queues (empty: all).")
    tasks = models.JSONField(default=list, blank=True, help_text="Only jobs of these tasks (empty: all).")
    final_only = models.BooleanField(default=False, help_text="Only a job's last event (its end), not each attempt.")
    secret = models.CharField(max_length=200, help_text="Signs each delivery (HMAC-SHA256); write-only.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def wants(self, event: dict) -> bool:
        return (
            self.enabled
            and (not self.events or event["type"] in self.events)
            and (not self.queues or event.get("queue") in self.queues)
            and (not self.tasks or event.get("task") in self.tasks)
            and (not self.final_only or event.get("final"))
        )


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: a job of its own (``webhooks.deliver``), so retried,
    dead-lettered and visible like any job. The endpoint's delivery log."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, help_text="The event's id (the same on every retry: the receiver's idempotency key).")
    event_type = models.CharField(max_length=32)
    job_ref = models.CharField("job", max_length=64, blank=True, help_text="The job the event is about.")
    payload = models.JSONField(decoder=SafeJSONDecoder)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.job_ref} -> {self.endpoint_id} ({self.state})"
