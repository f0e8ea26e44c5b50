"""manage.py import_rq_schedules: rq-scheduler's schedules (from Redis) and rq.cron definitions
(from a configuration module) as Conveyor schedules. jobs/scheduling/rq_import.py says how
each maps; docs/migrating.md walks through a move."""

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.scheduling import rq_import


class Command(BaseCommand):
    help = "Import rq-scheduler's schedules and rq.cron definitions as Conveyor schedules (created disabled unless --enable)."

    def add_arguments(self, parser):
        parser.add_argument("--redis-url", help="Where rq-scheduler keeps its schedules (default: REDIS_URL)")
        parser.add_argument("--no-rq-scheduler", action="store_true", help="Do not read rq-scheduler's schedules")
        parser.add_argument("--cron-config", action="append", default=[], help="An rq.cron configuration file or module (repeatable)")
        parser.add_argument("--enable", action="store_true", help="Create the schedules enabled (stop the old scheduler first)")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be imported; change nothing")

    def handle(self, *args, **o):
        definitions = []
        if not o["no_rq_scheduler"]:
            url = o["redis_url"] or settings.REDIS_URL
            try:
                definitions += rq_import.from_rq_scheduler(redis.Redis.from_url(url))
            except redis.RedisError as exc:
                raise CommandError(f"cannot read rq-scheduler's schedules from Redis: {exc}") from None
        for path in o["cron_config"]:
            try:
                definitions += rq_import.from_rq_cron_module(path)
            except (ImportError, OSError, SyntaxError) as exc:
                raise CommandError(f"cannot load the rq.cron configuration {path!r}: {exc}") from None
        report = rq_import.import_definitions(definitions, enabled=o["enable"], actor="system:import_rq_schedules", dry_run=o["dry_run"])
        verb = "would create" if o["dry_run"] else "created"
        state = "enabled" if o["enable"] else "disabled: enable them in the admin once the old scheduler is stopped"
        for name in report.created:
            self.stdout.write(f"{verb} schedule {name}")
        for line in report.delayed:
            self.stdout.write(f"{'would enqueue' if o['dry_run'] else 'enqueued'} delayed job {line}")
        for name in report.existing:
            self.stdout.write(f"already imported: {name}")
        for line in report.notes:
            self.stdout.write(f"note: {line}")
        for line in report.skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(
            f"{len(report.created)} schedule(s) {verb} ({state}), {len(report.delayed)} delayed job(s), "
            f"{len(report.existing)} already there, {len(report.skipped)} skipped"
        )
        if report.skipped:
            raise CommandError(f"{len(report.skipped)} definition(s) could not be imported (above)", returncode=1)
