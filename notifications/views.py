"""Delivery reports from providers: Twilio's status callbacks (TWILIO_STATUS_CALLBACK_URL).

Twilio POSTs a form for each change of a message's status (queued, sent, delivered, read,
undelivered, failed), signed with the account's auth token in X-Twilio-Signature over the URL
and the form's fields. An unsigned or wrongly signed report is refused (403) and changes nothing;
a signed one updates its notification's delivery status, forward only (reports arrive out of
order: a late "sent" does not undo "delivered").
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from notifications.models import Notification

log = logging.getLogger(__name__)

# How far along a message is; a report moves a notification only forward. The failures are as
# final as delivery: once a provider says undelivered it does not later say delivered.
PROGRESS = {"accepted": 1, "scheduled": 1, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5, "undelivered": 4, "failed": 4}


@csrf_exempt
@require_POST
def twilio_status(request):
    url = settings.TWILIO_STATUS_CALLBACK_URL or request.build_absolute_uri()
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.TWILIO_AUTH_TOKEN or not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST, signature):
        log.warning("Twilio status callback refused: bad or missing signature")
        return HttpResponse("bad signature\n", status=403, content_type="text/plain")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "").lower()
    if not sid or status not in PROGRESS:
        return HttpResponse("MessageSid and a known MessageStatus are required\n", status=400, content_type="text/plain")
    notification = Notification.objects.filter(provider_message_id=sid, channel__in=["sms", "whatsapp"]).first()
    if notification is None:  # not ours, or already gone by retention: nothing to do, and no retry wanted
        return HttpResponse(status=204)
    error = request.POST.get("ErrorCode", "")[:255] if status in ("undelivered", "failed") else ""
    moved = (
        Notification.objects.filter(pk=notification.pk)
        .exclude(delivery_status__in=[s for s, rank in PROGRESS.items() if rank >= PROGRESS[status]])
        .update(delivery_status=status, delivery_error=error, delivery_updated_at=timezone.now())
    )
    log.info("notification %s: delivery %s%s", notification.pk, status, "" if moved else " (older than what we have; kept)")
    return HttpResponse(status=204)
