"""API tokens: created with the key shown once, stored hashed, revocable."""
from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone
from rest_framework import authentication, exceptions

from jobs.models import ApiToken


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(user, name: str, *, actor=None) -> tuple[ApiToken, str]:
    """Returns the token and its key; the key is not stored and cannot be shown again."""
    from jobs.services import audit

    key = "cvy_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name[:100] or "token", prefix=key[:12], key_hash=_hash(key))
    audit(actor or user, "token.create", "api_token", token.pk, name=token.name, user=user.get_username())
    return token, key


def token_revoke(token_id, *, actor, reason: str = "") -> ApiToken:
    from jobs.services import audit

    token = ApiToken.objects.get(pk=token_id)
    if token.revoked_at is None:
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        audit(actor, "token.revoke", "api_token", token.pk, reason)
    return token


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``."""

    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Give the header as: Authorization: Token <key>.")
        key = parts[1].decode(errors="replace")
        token = ApiToken.objects.select_related("user").filter(key_hash=_hash(key), revoked_at__isnull=True).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)  # at most one write a minute
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
