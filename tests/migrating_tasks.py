"""The Conveyor side of docs/migrating.md's examples, run by tests/test_migrating.py."""

from jobs.core.outcomes import PermanentFailure, RetryLater
from jobs.core.policies import Exponential
from jobs.core.registry import task
from jobs.transport.redis import get_redis


# django-rq's @job("reports") def build(report_id)
@task("reports.build_example", queue="reports", timeout=600)
def build(ctx, report_id: int):
    ctx.progress(40, "halfway")
    get_redis().incr(f"test:runs:build-{report_id}")
    return {"report": report_id}


# Celery's @shared_task(bind=True, autoretry_for=(IOError,), retry_backoff=2, max_retries=3)
@task("mail.send_example", queue="emails", retry=Exponential(retries=3, delay=2))
def send(ctx, user_id: int, mode: str = "ok"):
    if mode == "throttled":
        raise RetryLater("the mail API is throttling us", after=60)  # Celery: raise self.retry(countdown=60)
    if mode == "bounced":
        raise PermanentFailure("the address does not exist")  # Celery: Reject(requeue=False)
    if mode == "flaky":
        raise OSError("connection reset")  # autoretry_for: retried by the policy
    return {"sent": user_id}
