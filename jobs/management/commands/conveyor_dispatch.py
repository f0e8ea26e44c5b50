from django.core.management.base import BaseCommand

from jobs.ops.sweep import sweep


class Command(BaseCommand):
    help = "Run one dispatcher sweep now (pending, due and lost jobs) and print what it sent."

    def handle(self, *args, **options):
        counts = sweep()
        self.stdout.write(f"sent {counts['pending']} pending, {counts['due']} due, {counts['lost']} lost job(s)")
