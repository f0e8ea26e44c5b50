"""Pay payees now: `manage.py run_payouts --all` or `--payee 3 --payee 7`, `--dry-run` to preview."""

from django.core.management.base import BaseCommand, CommandError

from payouts.services import PayoutError, payout_run


class Command(BaseCommand):
    help = "Create one payout per selected payee whose available balance reaches its threshold (or preview with --dry-run)."

    def add_arguments(self, parser):
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--all", action="store_true", help="Every active payee.")
        who.add_argument("--payee", type=int, action="append", dest="payees", metavar="ID", help="A payee id; repeat for more.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would be paid; write nothing.")
        parser.add_argument("--reason", default="", help="Recorded in the audit log.")

    def handle(self, *args, all, payees, dry_run, reason, **options):
        try:
            plan = payout_run(payee_ids=None if all else payees, dry_run=dry_run, actor="system:command", reason=reason)
        except PayoutError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        for p in plan.payouts:
            self.stdout.write(
                f"{'would pay' if dry_run else 'paying'} payee {p['payee']} ({p['user']}): {p['amount']} {p['currency']} to {p['destination']}"
            )
        for s in plan.skipped:
            self.stdout.write(f"skipped payee {s['payee']}: {s['reason']}")
        run = f" in run {plan.run.run_key}" if plan.run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(plan.payouts)} payout(s), {plan.total} in total{run}{' (dry run: nothing written)' if dry_run else ''}."
            )
        )
