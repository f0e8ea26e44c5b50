"""The operations dashboard in a real browser: Playwright driving Debian's Chromium, headless,
against a live server with the real database and Redis.

Staff log in, see the charts draw with data, pause and resume a queue, retry a failed job and
see it succeed; a user who is not staff is refused. Screenshots go to test-artifacts/e2e/.
Skipped (with the reason) only where Chromium is not installed: `make test` installs it
(scripts/install_browser.sh). CHROMIUM_PATH points at another binary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobRecord, QueueState
from jobs.ops import metrics
from jobs.ops.enqueue import enqueue
from tests.e2e.conftest import log_in, needs_chromium, shot

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_staff_run_the_system_from_the_dashboard(page, django_user_model, run_worker):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    now = timezone.now()
    for i in range(12):  # finished jobs over the last minutes, for the charts
        job = enqueue("test.count", kwargs={"key": f"done-{i}"})
        at = now - timedelta(minutes=i % 6, seconds=5)
        JobRecord.objects.filter(pk=job.pk).update(state=State.SUCCEEDED, started_at=at - timedelta(seconds=0.2 * i), finished_at=at)
    failed = enqueue("test.count", kwargs={"key": "was-dead"})
    JobRecord.objects.filter(pk=failed.pk).update(state=State.DEAD, finished_at=now, last_error="RuntimeError: provider timeout")
    metrics.rollup(now - timedelta(minutes=7))
    metrics.rollup(now)

    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    page.wait_for_selector("#chart-succeeded[data-series] canvas")  # uPlot drew the chart from the rollups
    assert int(page.get_attribute("#chart-succeeded", "data-series")) >= 1
    legend = page.inner_text("#chart-succeeded .u-legend")
    assert "default" in legend and "time (UTC)" in legend  # the legend names the queues
    over = page.locator("#chart-succeeded .u-over")
    box = over.bounding_box()
    over.hover(position={"x": box["width"] - 3, "y": box["height"] / 2})  # the latest minutes: their values in the legend
    page.wait_for_function("document.querySelector('#chart-succeeded .u-legend').innerText.includes('jobs/min')")
    shot(page, "dashboard-hover")
    assert page.locator(".cv-card").count() == QueueState.objects.count()
    shot(page, "dashboard")

    card = page.locator('.cv-card[data-queue="reports"]')
    card.locator("button.cv-pause").click()
    page.wait_for_selector('.cv-card.cv-paused[data-queue="reports"]')
    assert QueueState.objects.get(name="reports").paused
    shot(page, "queue-paused")
    page.locator('.cv-card[data-queue="reports"] button.cv-resume').click()
    page.wait_for_selector('.cv-card[data-queue="reports"]:not(.cv-paused)')
    assert not QueueState.objects.get(name="reports").paused

    row = page.locator(f'tr[data-job="{failed.pk}"]')
    assert "provider timeout" in row.inner_text()
    row.locator("button.cv-retry").click()
    page.wait_for_selector("text=is queued again")
    run_worker("default")
    assert JobRecord.objects.get(pk=failed.pk).state == State.SUCCEEDED
    page.reload()
    assert page.locator(f'tr[data-job="{failed.pk}"]').count() == 0  # no longer among the failures
    shot(page, "after-retry")
    page.goto(f"/admin/jobs/jobrecord/{failed.pk}/change/")
    assert "succeeded" in page.inner_text("#content").lower()  # staff see it succeed
    shot(page, "retried-job")


def test_the_dashboard_refreshes_itself(page, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    log_in(page, "ops")
    page.wait_for_url("**/admin/dashboard/")
    before = page.inner_text(".cv-updated")
    enqueue("test.count", queue="reports")
    page.wait_for_function(f"document.querySelector('.cv-updated').innerText !== {before!r}", timeout=15_000)
    waiting = page.locator('.cv-card[data-queue="reports"] .cv-figures tr').first.inner_text()
    assert "1" in waiting  # the new job shows up without a reload


def test_a_user_who_is_not_staff_is_refused(page, django_user_model):
    django_user_model.objects.create_user("ann", "ann@example.com", "pw")
    log_in(page, "ann")
    page.wait_for_selector(".errornote")
    assert "/admin/login/" in page.url
    page.goto("/admin/dashboard/")
    assert "/admin/login/" in page.url and page.locator(".cv-card").count() == 0
    shot(page, "refused")
