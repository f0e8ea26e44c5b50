"""The schedules the job platform itself needs (created after every migrate; see
jobs.core.timing.DefaultSchedule). Disable one in the admin rather than deleting it."""

from jobs.core.timing import DefaultSchedule

SCHEDULES = [
    # Follows QUEUE_CLEANUP_INTERVAL while nobody has changed its timing in the admin.
    DefaultSchedule("Retention cleanup", "jobs.cleanup", interval_setting="QUEUE_CLEANUP_INTERVAL"),
]
