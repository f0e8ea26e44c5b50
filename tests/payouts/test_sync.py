"""Payee status sync from an external source: changes applied, audited and summarised."""

import pytest

from audit.models import AuditEntry
from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.enqueue import enqueue
from payouts.models import Payee
from payouts.sync import StatusRecord, sync_payee_status

pytestmark = pytest.mark.django_db(transaction=True)


class FakeSource:
    records = []

    def statuses(self):
        return iter(self.records)


def test_the_sandbox_directory_closes_accounts_the_bank_declines(make_payee, run_worker):
    good = make_payee()
    closed = make_payee(account="0000123412341234")
    job = enqueue("integrations.sync_payees")
    run_worker("integrations")
    job.refresh_from_db()
    assert job.queue == "integrations" and job.progress == 100
    assert job.result["deactivated"] == 1 and job.result["unchanged"] == 1
    assert job.result["changes"][0]["username"] == closed.user.username
    assert Payee.objects.get(pk=good.pk).active and not Payee.objects.get(pk=closed.pk).active
    assert AuditEntry.objects.filter(action="payee.deactivate", object_id=str(closed.pk)).exists()


def test_a_custom_source_activates_deactivates_and_reports_unknowns(make_payee, settings):
    a, b = make_payee(), make_payee()
    Payee.objects.filter(pk=b.pk).update(active=False)
    settings.PAYEE_STATUS_SOURCE = "tests.payouts.test_sync.FakeSource"
    FakeSource.records = [
        StatusRecord(a.user.username, False, "KYC expired"),
        StatusRecord(b.user.username, True, "KYC renewed"),
        StatusRecord("nobody", True),
    ]
    summary = sync_payee_status()
    assert {k: summary[k] for k in ("records", "activated", "deactivated", "unchanged", "unknown")} == {
        "records": 3,
        "activated": 1,
        "deactivated": 1,
        "unchanged": 0,
        "unknown": 1,
    }
    again = sync_payee_status()
    assert (again["activated"], again["deactivated"], again["unchanged"]) == (0, 0, 2)
    assert not JobRecord.objects.exists()


class BrokenSource:
    def statuses(self):
        raise ConnectionError("the directory is down")


def test_a_source_that_is_down_fails_the_attempt_and_the_job_retries(make_payee, run_worker, settings):
    make_payee()
    settings.PAYEE_STATUS_SOURCE = "tests.payouts.test_sync.BrokenSource"
    job = enqueue("integrations.sync_payees")
    run_worker("integrations")
    job.refresh_from_db()
    assert job.state == State.RETRYING and "the directory is down" in job.last_error
    assert Payee.objects.filter(active=True).count() == 1
