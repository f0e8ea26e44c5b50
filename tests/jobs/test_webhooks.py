"""Outbound webhooks (jobs.ops.webhooks): endpoints staff register get the job events they ask
for, each delivery a job of its own, signed with HMAC-SHA256 and a timestamp, retried on 5xx
and 429, failed at once on other 4xx, logged per endpoint, never looping on themselves."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from jobs.core.signing import verify
from jobs.core.states import State
from jobs.models import JobRecord, WebhookDelivery, WebhookEndpoint
from jobs.ops import events as relay
from jobs.ops.enqueue import enqueue
from jobs.ops.sweep import sweep
from tests.httpservers import JsonHandler, LocalServer

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "a-webhook-secret-of-some-length"


class _Handler(JsonHandler):
    def do_POST(self):
        receiver = self.server.owner
        receiver.received.append((self.body(), dict(self.headers)))
        status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
        self.answer(status, {"ok": status < 300}, headers)


class Receiver(LocalServer):
    def __init__(self):
        self.received, self.answers = [], []  # answers: (status, headers) to give, in order; then 200
        super().__init__(_Handler)
        self.url += "/hook"


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def _endpoint(url, **fields):
    return WebhookEndpoint.objects.create(name=fields.pop("name", "ops"), url=url, secret=SECRET, **fields)


def _events_then_deliveries(run_worker, *queues):
    run_worker(*queues)
    relay.relay()
    run_worker("integrations")


def test_a_job_event_is_delivered_signed_with_an_idempotency_key(receiver, run_worker, redis_db):
    relay.relay()
    endpoint = _endpoint(receiver.url)
    job = enqueue("test.count", ["hook"])
    _events_then_deliveries(run_worker, "default")
    ((body, headers),) = receiver.received
    verify(SECRET, body, headers["Conveyor-Signature"])  # the receiver's check
    payload = json.loads(body)
    assert payload["type"] == "completed" and payload["data"]["job_id"] == str(job.pk) and payload["data"]["final"] is True
    assert headers["Idempotency-Key"] == payload["id"] and headers["Conveyor-Event"] == "completed"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.state, delivery.response_status, delivery.attempts, delivery.job.state) == ("delivered", 200, 1, State.SUCCEEDED)
    relay.relay()  # read again: no second delivery
    assert WebhookDelivery.objects.count() == 1


def test_endpoints_get_only_what_they_ask_for(receiver, run_worker):
    relay.relay()
    _endpoint(receiver.url, name="failures", events=["failed"])
    _endpoint(receiver.url, name="reports only", queues=["reports"])
    _endpoint(receiver.url, name="ends", final_only=True, tasks=["test.fail"])
    enqueue("test.count", ["filtered"])
    enqueue("test.fail", ["filtered-fail"])
    _events_then_deliveries(run_worker, "default")
    assert sorted(WebhookDelivery.objects.values_list("endpoint__name", "event_type")) == [("failures", "failed")]


@pytest.mark.parametrize(
    "answer, state, job_state",
    [((503, {}), "pending", State.RETRYING), ((429, {"Retry-After": "30"}), "pending", State.RETRYING), ((400, {}), "failed", State.DEAD)],
)
def test_failed_deliveries_are_retried_or_failed_by_the_answer(receiver, run_worker, answer, state, job_state):
    relay.relay()
    _endpoint(receiver.url)
    receiver.answers.append(answer)
    enqueue("test.count", ["hook-fail"])
    _events_then_deliveries(run_worker, "default")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.response_status, delivery.job.state) == (state, answer[0], job_state)
    if answer[0] == 429:
        assert (delivery.job.run_at - timezone.now()).total_seconds() > 25
    if state == "pending":  # the retry gets through, with the same event id
        JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
        sweep()
        run_worker("integrations")
        delivery.refresh_from_db()
        assert delivery.state == "delivered" and delivery.attempts == 2
        ids = {json.loads(body)["id"] for body, _ in receiver.received}
        assert len(ids) == 1


def test_staff_with_the_permission_deliver_a_failed_one_again(receiver, run_worker, django_user_model):
    relay.relay()
    _endpoint(receiver.url)
    receiver.answers.append((404, {}))
    enqueue("test.count", ["hook-again"])
    _events_then_deliveries(run_worker, "default")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "failed"
    action = {"action": "deliver_again", "_selected_action": [delivery.pk]}
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_webhookdelivery"))
    client = Client()
    client.force_login(viewer)
    client.post("/admin/jobs/webhookdelivery/", action)
    delivery.refresh_from_db()
    assert delivery.state == "failed"  # staff status and the view permission: not enough
    operator = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    operator.user_permissions.set(Permission.objects.filter(codename__in=["view_webhookdelivery", "change_webhookdelivery"]))
    client.force_login(operator)
    assert client.post("/admin/jobs/webhookdelivery/", action).status_code == 302
    run_worker("integrations")
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and len(receiver.received) == 2


def test_deliveries_do_not_make_events_of_their_own(receiver, run_worker):
    relay.relay()
    _endpoint(receiver.url)
    enqueue("test.count", ["no-loop"])
    for _ in range(3):
        _events_then_deliveries(run_worker, "default")
    assert WebhookDelivery.objects.count() == 1 and len(receiver.received) == 1


def test_the_admin_keeps_the_secret_write_only(client, django_user_model, receiver):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    page = client.post(
        "/admin/jobs/webhookendpoint/add/",
        {"name": "crm", "url": receiver.url, "queues": "reports, nowhere", "secret": "s" * 20, "enabled": "on"},
    )
    assert page.status_code == 200 and "No such queue: nowhere" in page.content.decode()
    page = client.post(
        "/admin/jobs/webhookendpoint/add/", {"name": "crm", "url": receiver.url, "queues": "reports", "secret": "s" * 20, "enabled": "on"}
    )
    endpoint = WebhookEndpoint.objects.get()
    assert page.status_code == 302 and endpoint.queues == ["reports"] and endpoint.secret == "s" * 20
    change = client.get(f"/admin/jobs/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert "s" * 20 not in change
    client.post(
        f"/admin/jobs/webhookendpoint/{endpoint.pk}/change/",
        {"name": "crm", "url": receiver.url, "queues": "", "secret": "", "enabled": "on"},
    )
    endpoint.refresh_from_db()
    assert endpoint.secret == "s" * 20 and endpoint.queues == []
