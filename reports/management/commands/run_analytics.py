from django.core.management.base import BaseCommand

from reports.services import analytics_fan_out


class Command(BaseCommand):
    help = "Enqueue per-user analytics now: for every active user, or for --user ID (repeatable)."

    def add_arguments(self, parser):
        parser.add_argument("--user", type=int, action="append", dest="users", help="A user id; repeat for several.")

    def handle(self, *args, users=None, **options):
        result = analytics_fan_out(users)
        self.stdout.write(
            f"{result['users']} user(s): {result['enqueued']} job(s) enqueued, {result['already_waiting']} already waiting or running"
        )
