"""API tokens: created with the key shown once, stored hashed, revocable.

A token authenticates as its user and carries exactly that user's permissions, read at each
request: a user who loses a permission, is deactivated or deleted loses it through every
token too. Failed attempts are counted per client address (access.clients): after
API_TOKEN_FAILURE_LIMIT within API_TOKEN_FAILURE_WINDOW seconds the address is answered 429.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions

from access.clients import client_ip
from api.models import ApiToken
from audit.services import audit

log = logging.getLogger(__name__)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(user, name: str, *, actor=None) -> tuple[ApiToken, str]:
    """Returns the token and its key; the key is not stored and cannot be shown again."""
    key = "cvy_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100] or "token", prefix=key[:12], key_hash=_hash(key))
    audit(actor or user, "token.create", "api_token", token.pk, name=token.name, user=user.get_username())
    return token, key


def token_revoke(token_id, *, actor, reason: str = "") -> ApiToken:
    token = ApiToken.objects.get(pk=token_id)
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        audit(actor, "token.revoke", "api_token", token.pk, reason)
    return token


def _failures_key(request) -> str:
    return f"api-token-failures:{client_ip(request) or 'unknown'}"


def _refuse_if_locked_out(request) -> None:
    try:
        key = _failures_key(request)
        failures = cache.get(key, 0)
        wait = cache.ttl(key) if failures >= settings.API_TOKEN_FAILURE_LIMIT else None
    except Exception as exc:  # Redis unreachable: a 256-bit key cannot be guessed meanwhile; say so and go on
        log.warning("token failure count unavailable (%s); not throttling", exc)
        return
    if wait is not None:
        raise exceptions.Throttled(
            wait=max(int(wait or 0), 1),
            detail=(
                f"Too many failed token attempts from your address ({failures} in {settings.API_TOKEN_FAILURE_WINDOW} s); try again later."
            ),
        )


def _count_failure(request) -> None:
    try:
        key = _failures_key(request)
        cache.add(key, 0, timeout=settings.API_TOKEN_FAILURE_WINDOW)
        cache.incr(key)
    except Exception as exc:
        log.warning("token failure not counted (%s)", exc)


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``."""

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        _refuse_if_locked_out(request)
        if len(parts) != 2:
            _count_failure(request)
            raise exceptions.AuthenticationFailed("Give the header as: Authorization: Token <key>.")
        key = parts[1].decode(errors="replace")
        token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key), revoked_at__isnull=True).first()
        if token is None or not token.user.is_active:
            _count_failure(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most one write a minute
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
