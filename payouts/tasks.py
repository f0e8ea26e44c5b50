from jobs.registry import task


@task("payouts.daily_run", queue="payouts")
def daily_payout_run(ctx):
    """The daily payout run. Placeholder until the payouts issue builds it; its schedule is real."""
    return {"status": "placeholder: the payout run is built by the payouts issue"}


@task("payouts.reconcile_credits", queue="reconciliation")
def reconcile_credits(ctx):
    """Credit reconciliation. Placeholder until the payouts issue builds it; its schedule is real."""
    return {"status": "placeholder: reconciliation is built by the payouts issue"}
