from datetime import timedelta

from django.utils import timezone

from jobs.core.registry import task
from reports import imports, services
from reports.imports import import_expire_files


@task("analytics.fan_out", queue="analytics", permission="jobs.enqueue_task", api=True)
def analytics_fan_out(ctx):
    """The hourly producer: one analytics job per active user."""
    return services.analytics_fan_out()


@task(
    "analytics.user",
    queue="analytics",
    dedup=lambda user_id: f"user analytics for user {user_id}",
    permission="jobs.enqueue_task",
    api=True,
)
def analytics_user(ctx, user_id: int):
    """Per-user processing; safe to run twice (it recomputes and overwrites)."""
    return services.user_figures(user_id)


@task("reports.generate", queue="reports", timeout=3600)
def generate(ctx, report_id: int):
    """Produce a requested report or export (queue: reports, daily_reports or exports)."""
    return _marked_failed_at_the_end(ctx, services.report_generate, services.report_failed, report_id)


def _marked_failed_at_the_end(ctx, run, mark_failed, object_id):
    """Run ``run(object_id, progress)``; if the job's last attempt fails, ``mark_failed`` the object too."""
    try:
        return run(object_id, ctx.progress)
    except Exception as exc:
        if ctx.is_last_attempt:
            mark_failed(object_id, f"{type(exc).__name__}: {exc}")
        raise


@task("reports.daily_report", queue="daily_reports", timeout=3600, permission="reports.add_report")
def daily_report(ctx, day: str | None = None):
    """The scheduled daily operations report, for yesterday (UTC) unless a day is given; once per day."""
    report = services.daily_report_for(day or (timezone.now() - timedelta(days=1)).date().isoformat(), job_id=ctx.job_id)
    return services.report_generate(report.pk, ctx.progress)


@task("reports.expire_files", queue="maintenance", permission="jobs.enqueue_task")
def expire_files(ctx):
    """Delete report and export files past REPORT_RETENTION, and uploaded import files past IMPORT_FILE_RETENTION."""
    return {"expired": services.report_expire_files(), "import_files_deleted": import_expire_files()}


@task("reports.import", queue="imports", timeout=3600)
def run_import(ctx, import_id: int):
    """Apply an uploaded import row by row (payees or ledger credits)."""
    return _marked_failed_at_the_end(ctx, imports.import_run, imports.import_failed, import_id)
