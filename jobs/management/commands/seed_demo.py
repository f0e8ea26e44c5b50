from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from jobs.models import JobRecord
from jobs.services import enqueue


class Command(BaseCommand):
    help = "Create the demo admin login (demo/demo) and a few demo jobs, once. Refuses to run in production."

    def handle(self, *args, **options):
        from django.conf import settings

        if settings.PRODUCTION:
            self.stderr.write("seed_demo does nothing when DJANGO_ENV=production")
            return
        User = get_user_model()
        if not User.objects.filter(username="demo").exists():
            User.objects.create_superuser("demo", "demo@example.com", "demo")
            self.stdout.write("created superuser demo / demo")
        if not JobRecord.objects.exists():
            enqueue("demo.sleep", kwargs={"seconds": 6, "steps": 6})
            enqueue("demo.flaky", kwargs={"fail_times": 2})
            enqueue("demo.fail", kwargs={"message": "demo: this job exhausts its retries"})
            for _ in range(5):
                enqueue("demo.noop")
            self.stdout.write("enqueued demo jobs: a slow one, a flaky one, a failing one and five no-ops")
        self._demo_payouts()

    def _demo_payouts(self):
        from decimal import Decimal

        from payouts import services
        from payouts.models import Payee, RecurringPayout

        if Payee.objects.exists():
            return
        User = get_user_model()
        accounts = {"alice": "DE89370400440532013000", "bob": "GB33BUKB20201555555555", "carol": "0000111122223333"}
        payees = {}
        for name, account in accounts.items():
            user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
            payees[name] = services.payee_create(user, currency="EUR", account=account, actor="system:seed_demo")
            services.ledger_credit(payees[name].pk, "2500.00", memo="demo opening balance", actor="system:seed_demo")
        services.payout_request(payees["alice"].pk, "120.00", actor="system:seed_demo", reason="demo")
        services.payout_request(payees["bob"].pk, "1500.00", actor="system:seed_demo", reason="demo: above the approval threshold")
        services.payout_request(payees["carol"].pk, "50.00", actor="system:seed_demo", reason="demo: this bank declines")
        services.recurring_save(RecurringPayout(payee=payees["alice"], amount=Decimal("25.00"), cron="0 9 * * 1"))
        self.stdout.write("created demo payees alice, bob and carol with payouts (one awaiting approval, one declined)")

