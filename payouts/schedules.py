"""The payouts app's schedules (created after every migrate; jobs.core.timing.DefaultSchedule)."""

from jobs.core.timing import DefaultSchedule

SCHEDULES = [
    DefaultSchedule("Daily payout run", "payouts.daily_run", cron="0 9 * * *"),
    DefaultSchedule("Credit reconciliation", "payouts.reconcile_credits", cron="15 */6 * * *"),
    DefaultSchedule("Recurring payouts", "payouts.recurring_due", interval_seconds=60),
    DefaultSchedule("Payout recovery", "payouts.recover", interval_seconds=300),
    DefaultSchedule("Payout settlement check", "payouts.check_sent", interval_seconds=300),
    # Posts nothing while PAYEE_INTEREST_RATE is 0.
    DefaultSchedule("Monthly interest posting", "calculations.post_interest", cron="0 2 1 * *"),
    DefaultSchedule("Payee status sync", "integrations.sync_payees", cron="0 3 * * *"),
]
