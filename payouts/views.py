"""Payout providers' notifications: POST /webhooks/payouts/<provider>/.

The provider checks its own signature (Provider.webhook) and says which transfers the
notification is about, as they stand now; each is applied to its payout
(payouts.services.apply_transfer), so a notification sent twice or out of order changes a
payout once and only forward. A refused notification changes nothing (400/403); a provider
that cannot be reached to confirm it gets a 503, so it sends the notification again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payouts import services
from payouts.providers import ProviderDeclined, ProviderError, WebhookRefused, get_provider

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def provider_webhook(request, provider: str):
    if provider not in settings.PAYOUT_PROVIDERS:
        return HttpResponse("unknown provider\n", status=404, content_type="text/plain")
    try:
        transfers = get_provider(provider).webhook(request)
    except WebhookRefused as exc:
        log.warning("payout webhook from %s refused: %s", provider, exc)
        return HttpResponse(f"{exc}\n", status=exc.status, content_type="text/plain")
    except (ProviderError, ProviderDeclined) as exc:
        log.warning("payout webhook from %s: could not read the transfer (%s); it will be sent again", provider, exc)
        return HttpResponse("try again\n", status=503, content_type="text/plain")
    outcomes = {transfer.reference: services.apply_transfer(transfer) for transfer in transfers}
    return JsonResponse({"applied": outcomes})
