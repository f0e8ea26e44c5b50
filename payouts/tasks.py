"""Payout jobs: thin bodies that take ids and call payouts.services. Each is safe to run twice."""

from django.utils import timezone

from jobs.core.registry import task
from payouts import reconciliation, services
from payouts.calculations import post_interest as post
from payouts.calculations import previous_period
from payouts.models import PayoutRun
from payouts.sync import sync_payee_status

# Money tasks: never enqueued by name through the API; their dead jobs are re-run only by holders
# of payouts.run_payouts (access.rules.refusal_to_rerun), and schedules of them likewise.
MONEY = {"permission": "payouts.run_payouts", "money": True}


@task("payouts.process", queue="payouts", timeout=120, dedup=lambda payout_id: f"payout {payout_id}", **MONEY)
def process(ctx, payout_id: int):
    """Pay one payout through its provider (retried on provider errors, with backoff)."""
    return {"payout": payout_id, "state": services.process_payout(payout_id, last_attempt=ctx.is_last_attempt)}


@task("payouts.fallback", queue="provider_fallback", timeout=120, dedup=lambda payout_id: f"payout {payout_id} fallback", **MONEY)
def fallback(ctx, payout_id: int):
    """The same payout, through the fallback provider, after the primary failed it repeatedly."""
    return {"payout": payout_id, "state": services.process_payout(payout_id, last_attempt=ctx.is_last_attempt)}


@task("payouts.settle", queue="payouts", dedup=lambda payout_id: f"payout {payout_id} settle", **MONEY)
def settle(ctx, payout_id: int):
    """Decide a payout whose processing job died: paid if a provider holds the transfer, else failed."""
    return {"payout": payout_id, "state": services.settle(payout_id)}


@task("payouts.check_sent", queue="payouts", timeout=600, **MONEY)
def check_sent(ctx):
    """Ask the providers about payouts still sent (taken, not yet settled) and apply the answers:
    the settlement check behind the providers' webhooks."""
    return services.check_sent()


@task("payouts.expire", queue="payout_expiry", dedup=lambda payout_id: f"payout {payout_id} expiry", **MONEY)
def expire(ctx, payout_id: int):
    """The approval deadline of a large payout (a delayed job, PAYOUT_APPROVAL_TTL after the request)."""
    return {"payout": payout_id, "state": services.payout_expire(payout_id)}


@task("payouts.daily_run", queue="payouts", timeout=1800, **MONEY)
def daily_payout_run(ctx):
    """The scheduled daily run: one payout per payee over its threshold, once per day."""
    plan = services.payout_run(trigger=PayoutRun.Trigger.SCHEDULE, run_key=f"daily-{timezone.now():%Y-%m-%d}", actor="system:scheduler")
    return {"run": plan.run.pk if plan.run else None, "payouts": len(plan.payouts), "total": str(plan.total)}


@task("payouts.recurring_due", queue="payouts", timeout=600, **MONEY)
def recurring_due(ctx):
    """Create the payouts of standing instructions whose time has come."""
    return services.recurring_due()


@task("payouts.reconcile_credits", queue="reconciliation", timeout=1800, **MONEY)
def reconcile_credits(ctx):
    """Compare the ledger with the providers' records; flag mismatches for staff."""
    report = reconciliation.reconcile()
    return {"report": report.pk, "mismatches": report.mismatch_count}


@task("payouts.recover", queue="payouts", timeout=600, **MONEY)
def recover(ctx):
    """Send again approved payouts that have no job; settle processing ones whose job is gone."""
    return reconciliation.recover_stuck()


@task("calculations.post_interest", queue="calculations", timeout=3600, permission="payouts.add_ledgerentry", money=True)
def post_interest(ctx, period: str | None = None):
    """Monthly interest on payees' balances (the seeds' interest posting), for last month by default."""
    return post(period or previous_period(timezone.now().date()), progress=ctx.progress)


@task("integrations.sync_payees", queue="integrations", timeout=3600, permission="payouts.change_payee")
def sync_payees(ctx):
    """Synchronise payee status from the external source (PAYEE_STATUS_SOURCE); returns a summary of changes."""
    return sync_payee_status(ctx.progress)
