"""Run a credit reconciliation now and print its mismatches (exit 1 if there are any)."""

import sys

from django.core.management.base import BaseCommand

from payouts.reconciliation import reconcile


class Command(BaseCommand):
    help = "Compare the ledger with the payout providers' records; report mismatches."

    def handle(self, *args, **options):
        report = reconcile(actor="system:command")
        for m in report.mismatches:
            self.stdout.write(
                f"{m['kind']}: payout {m.get('payout', '-')} payee {m.get('payee', '-')} {m.get('provider', '')} {m.get('detail', '')}"
            )
        self.stdout.write(
            f"report {report.pk}: {report.checked_payouts} payouts, {report.checked_transfers} transfers, {report.mismatch_count} mismatch(es)"
        )
        if report.mismatch_count:
            sys.exit(1)
