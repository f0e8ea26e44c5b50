"""Emails to payees about their payouts (Django's email backend: console in development)."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from payouts.models import Payout


def send_payout_notice(payout_id: int, state: str) -> dict:
    payout = Payout.objects.select_related("payee__user").filter(pk=payout_id).first()
    if payout is None or state not in (Payout.State.PAID, Payout.State.FAILED):
        return {"sent": False, "reason": "no such payout or nothing to say"}
    email = payout.payee.user.email
    if not email:
        return {"sent": False, "reason": "the payee has no email address"}
    context = {"payout": payout, "state": state, "destination": payout.payee.destination}
    subject = f"Your payout of {payout.amount} {payout.currency} was {'paid' if state == Payout.State.PAID else 'not paid'}"
    send_mail(subject, render_to_string("payouts/payout_notice.txt", context), settings.DEFAULT_FROM_EMAIL, [email])
    return {"sent": True, "to": email}
