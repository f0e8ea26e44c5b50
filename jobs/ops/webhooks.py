"""Outbound webhooks: job events POSTed to the endpoints staff register in the admin.

The event relay (jobs.ops.events) hands each new event to ``fan_out``, which records one
WebhookDelivery per endpoint that wants it (once: the pair is unique) and enqueues its
``webhooks.deliver`` job on the ``integrations`` queue. ``deliver`` POSTs

    {"id": "a1234", "type": "completed", "data": {...the event...}}

with ``Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (the
endpoint's secret; check it with jobs.core.signing.verify), ``Conveyor-Event``, and
``Idempotency-Key`` (the event id, the same on every retry). A 2xx is delivered; 429 is
retried after its Retry-After; 5xx, 401/403, 408 and no answer are retried by the queue's
policy; any other 4xx fails the delivery at once (dead-lettered, visible, sent again from the
admin). Events about deliveries themselves are never delivered (no loops).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit
from jobs.core.errors import JobStateError
from jobs.core.outcomes import PermanentFailure, TemporaryFailure, classify_http
from jobs.core.signing import sign
from jobs.models import WebhookDelivery, WebhookEndpoint
from jobs.ops.enqueue import JobSpec, enqueue, enqueue_many

log = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
QUEUE = "integrations"


def fan_out(events: list[dict]) -> int:
    """Deliveries for every (endpoint, event) wanted and not recorded before; returns how many."""
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
    if not endpoints:
        return 0
    wanted = [
        WebhookDelivery(endpoint=endpoint, event_id=event["id"], event_type=event["type"], job_ref=event.get("job_id", ""), payload=event)
        for event in events
        if event.get("task") != DELIVER_TASK
        for endpoint in endpoints
        if endpoint.wants(event)
    ]
    if not wanted:
        return 0
    with transaction.atomic():
        existing = set(WebhookDelivery.objects.filter(event_id__in={d.event_id for d in wanted}).values_list("endpoint_id", "event_id"))
        new = [d for d in wanted if (d.endpoint_id, d.event_id) not in existing]
        WebhookDelivery.objects.bulk_create(new, ignore_conflicts=True)
        created = list(
            WebhookDelivery.objects.filter(event_id__in={d.event_id for d in new}, job__isnull=True, state=WebhookDelivery.State.PENDING)
        )
        jobs = enqueue_many([JobSpec(DELIVER_TASK, [d.pk], queue=QUEUE, subject=d) for d in created])
        for delivery, job in zip(created, jobs):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(job=job)
    return len(created)


def deliver(delivery_id: int, *, last_attempt: bool = False) -> str:
    import requests  # noqa: PLC0415  (loaded on first use)

    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state == WebhookDelivery.State.DELIVERED:
        return delivery.state if delivery else "missing"
    body = json.dumps({"id": delivery.event_id, "type": delivery.event_type, "data": delivery.payload}, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Conveyor-Signature": sign(delivery.endpoint.secret, body),
        "Conveyor-Event": delivery.event_type,
        "Idempotency-Key": delivery.event_id,
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        response = requests.post(delivery.endpoint.url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        return _failed(delivery, TemporaryFailure(f"{type(exc).__name__} posting to the endpoint"), None, "", last_attempt)
    if 200 <= response.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.DELIVERED,
            response_status=response.status_code,
            response_body=response.text[:500],
            error="",
            delivered_at=timezone.now(),
        )
        return WebhookDelivery.State.DELIVERED
    error = classify_http(response.status_code, f"the endpoint answered {response.reason}", response.headers.get("Retry-After"))
    return _failed(delivery, error, response.status_code, response.text[:500], last_attempt)


def _failed(delivery, error: Exception, status, text: str, last_attempt: bool) -> str:
    final = last_attempt or isinstance(error, PermanentFailure)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED if final else WebhookDelivery.State.PENDING,
        response_status=status,
        response_body=text,
        error=str(error)[:500],
    )
    raise error


def deliver_again(delivery_id, *, actor, reason: str = "") -> WebhookDelivery:
    """Staff: send a failed delivery again (a new job, the same event id)."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            raise JobStateError(f"no delivery {delivery_id}")
        if delivery.state != WebhookDelivery.State.FAILED:
            raise JobStateError(f"only failed deliveries are sent again; this one is {delivery.state}")
        job = enqueue(DELIVER_TASK, [delivery.pk], queue=QUEUE, subject=delivery)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(state=WebhookDelivery.State.PENDING, job=job, error="")
        audit(actor, "webhook.deliver_again", "webhook_delivery", delivery.pk, reason)
    delivery.refresh_from_db()
    return delivery
