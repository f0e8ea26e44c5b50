"""The reports app's schedules (created after every migrate; jobs.core.timing.DefaultSchedule)."""

from jobs.core.timing import DefaultSchedule

SCHEDULES = [
    DefaultSchedule("Hourly per-user analytics", "analytics.fan_out", cron="0 * * * *"),
    DefaultSchedule("Daily operations report", "reports.daily_report", cron="0 6 * * *"),
    DefaultSchedule("Report file retention", "reports.expire_files", interval_seconds=3600),
]
