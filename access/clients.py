"""The client's address, for login and token throttling.

Behind TRUSTED_PROXY_COUNT proxies that each append to X-Forwarded-For, the client is the
address the outermost trusted proxy saw: that many entries from the right. Entries further
left were written by the client and prove nothing. With no trusted proxies, REMOTE_ADDR.
Written here rather than taken from django-ipware: these six lines are the whole rule, and
its newest release changed how the count is read (docs/decisions.md 28).
"""

from __future__ import annotations

from django.conf import settings


def client_ip(request) -> str | None:
    """None when the request carries no address at all (a test client's force_login, say)."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None
