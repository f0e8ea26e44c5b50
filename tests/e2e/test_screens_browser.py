"""The admin screens read at a glance on a 1,280 × 800 screen: no list page scrolls sideways,
the dashboard with three workers fits in two screens, job pages are view-only with their
actions, and the RQ dashboard sends operators to what it cannot show."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from jobs.core.queues import queue_names, tiered_rq_names
from jobs.core.states import State
from jobs.models import JobRecord, Schedule, WorkerHeartbeat
from jobs.ops.enqueue import enqueue
from payouts import services as payouts
from reports.models import Report
from tests.e2e.conftest import log_in, needs_chromium, shot

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

LISTS = [
    "/admin/jobs/jobrecord/",
    "/admin/jobs/deadletterjob/",
    "/admin/payouts/payout/",
    "/admin/payouts/payee/",
    "/admin/jobs/schedule/",
    "/admin/reports/report/",
    "/admin/reports/import/",
    "/admin/jobs/queuestate/",
    "/admin/audit/auditentry/",
    "/admin/notifications/notification/",
    "/admin/payouts/ledgerentry/",
]


@pytest.fixture
def busy(django_user_model, settings):
    """Data with long values in every column, the way a real system has them."""
    settings.PAYOUT_APPROVAL_THRESHOLD = Decimal("100000.00")
    root = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    for i in range(3):
        user = django_user_model.objects.create_user(f"a.rather.long.username.{i}@example-company.com", f"p{i}@example.com")
        payee = payouts.payee_create(user, currency="EUR", account="DE89370400440532013000")
        payouts.ledger_credit(payee.pk, "98765432.10", memo="an opening balance with a long memo " * 2, reference=f"ref-{i}")
        payouts.payout_request(payee.pk, "12345678.90", actor=root)
    for i in range(5):
        job = enqueue("demo.sleep", kwargs={"seconds": 1}, subject=("payee", 1234567 + i))
        JobRecord.objects.filter(pk=job.pk).update(
            state=State.DEAD,
            finished_at=timezone.now(),
            attempts=4,
            max_attempts=4,
            last_error="RuntimeError: the provider answered 503 Service Unavailable " * 3,
        )
    Schedule.objects.create(
        name="A schedule with quite a long descriptive name",
        task_name="jobs.cleanup",
        cron="*/15 * * * 1-5",
        timezone="America/Argentina/Buenos_Aires",
        last_error="could not fire: " + "x" * 200,
    )
    Report.objects.create(
        kind=Report.Kind.EXPORT,
        parameters={"dataset": "payouts", "format": "xlsx", "filters": {}},
        state=Report.State.DONE,
        file_name="payouts-export-20261202-101500-1234567.xlsx",
        size=12_345_678,
        row_count=123_456,
        requested_by=root,
    )
    now = timezone.now()
    every_list = tiered_rq_names(queue_names())  # what a Procfile worker listens to: every tier list of every declared queue
    for n in range(3):
        WorkerHeartbeat.objects.create(
            name=f"worker-{n}-a1b2c3d4e5f6a7b8c9d0",
            hostname="web-1.internal",
            pid=1000 + n,
            queues=every_list,
            started_at=now,
            last_seen=now,
        )
    return root


@pytest.mark.parametrize("url", LISTS)
def test_list_pages_do_not_scroll_sideways(page, busy, url):
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    page.goto(url)
    # The page itself, and the results table inside it (the admin lets that scroll on its own).
    overflow = page.evaluate("""Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,
        ...[...document.querySelectorAll('#changelist .results')].map(e => e.scrollWidth - e.clientWidth))""")
    shot(page, "list-" + url.strip("/").replace("/", "-"))
    assert overflow <= 0, f"{url} is {overflow} px too wide at 1280 px"


def test_the_dashboard_with_three_workers_fits_in_two_screens(page, busy):
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    height = page.evaluate("document.documentElement.scrollHeight")
    shot(page, "dashboard-three-workers")
    assert height <= 1600, f"the dashboard is {height} px tall"
    workers = page.inner_text(".cv-workers")
    assert "all 18 queues" in workers and "payouts.critical" not in workers  # logical queues, not the tier lists


def test_the_rq_dashboard_shows_one_row_per_queue_and_where_the_rest_is(page, busy):
    enqueue("demo.noop")  # a job waiting in Redis (transactional test: pushed on commit)
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    page.goto("/admin/django_rq/dashboard/")
    shot(page, "rq-overview")
    assert page.locator("#rq-overview tbody tr").count() == 18  # queues, not their 72 tier lists
    assert "live in the database" in page.inner_text("#content")
    assert page.locator("#content a[href='/admin/dashboard/']").count() == 1


def test_a_job_page_is_a_record_with_its_actions(page, busy):
    job = JobRecord.objects.filter(state=State.DEAD).first()
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    page.goto(f"/admin/jobs/jobrecord/{job.pk}/change/")
    shot(page, "job-page")
    assert "View job record" in page.title()
    assert page.locator("input[type=submit][name=_save]").count() == 0
    assert page.locator("button.cv-retry").count() == 1 and page.locator("button.cv-requeue").count() == 1
    assert page.locator("button.cv-cancel").count() == 0  # a dead job cannot be cancelled
    page.locator("button.cv-requeue").click()
    page.wait_for_selector("text=Requeue from the dead-letter queue: done.")
    assert JobRecord.objects.get(pk=job.pk).state in (State.PENDING, State.QUEUED)


def test_a_browser_follows_a_job_with_server_sent_events(page, django_user_model, run_worker, settings):
    settings.SSE_POLL_INTERVAL = 0.1
    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    job = enqueue("demo.noop")
    page.evaluate(
        """id => { window.seen = []; const source = new EventSource(`/api/v1/jobs/${id}/events/`);
        for (const kind of ["state", "progress", "end"]) source.addEventListener(kind, e => {
          window.seen.push([kind, JSON.parse(e.data).state]); if (kind === "end") source.close(); }); }""",
        str(job.pk),
    )
    page.wait_for_function("window.seen.length >= 1")  # the job as it is: queued
    run_worker("default")
    page.wait_for_function("window.seen.some(e => e[0] === 'end')")
    seen = page.evaluate("window.seen")
    assert seen[0] == ["state", "queued"] and seen[-1] == ["end", "succeeded"]
