from jobs.registry import task
from reports import services


@task("analytics.fan_out", queue="analytics")
def analytics_fan_out(ctx):
    """The hourly producer: one analytics job per active user."""
    return services.analytics_fan_out()


@task("analytics.user", queue="analytics", dedup=lambda user_id: f"user analytics for user {user_id}")
def analytics_user(ctx, user_id: int):
    """Per-user processing; safe to run twice (it recomputes and overwrites)."""
    return services.user_figures(user_id)


@task("reports.daily_report", queue="daily_reports")
def daily_report(ctx):
    """The daily operations report. Placeholder until the reports issue builds it; its schedule is real."""
    return {"status": "placeholder: the daily report is built by the reports issue"}
