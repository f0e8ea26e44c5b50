"""Job events, sent after the change is committed. Receivers get keyword arguments:

    job_id, task_name, queue, attempt, and per signal:
    job_succeeded: result          job_failed: error, will_retry (every failed attempt)
    job_retrying: run_at, deferred job_dead: error
    (deferred: True when the task deferred itself, jobs.core.outcomes.Defer, False after a failure)
    job_cancelled: while_running   job_progress: percent, message

The same events are stored: each attempt is a JobAttempt row (outcome, times,
error), and the job row holds the current state and progress.
"""

from django.dispatch import Signal

job_succeeded = Signal()
job_failed = Signal()
job_retrying = Signal()
job_dead = Signal()
job_cancelled = Signal()
job_progress = Signal()
