"""Encryption of payout method details and uploaded import files at rest (Fernet: AES-128-CBC
with HMAC-SHA256).

The key is PAYOUT_ENCRYPTION_KEY when set (a Fernet key: 32 url-safe base64 bytes),
else derived from SECRET_KEY. Rotating SECRET_KEY without setting the old value as
PAYOUT_ENCRYPTION_KEY makes stored account numbers unreadable: see docs/payouts.md.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class VaultError(ValueError):
    pass


@cache
def _fernet() -> Fernet:
    key = settings.PAYOUT_ENCRYPTION_KEY
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(("conveyor.payouts:" + settings.SECRET_KEY).encode()).digest())
    return Fernet(key)


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def encrypt_bytes(plain: bytes) -> bytes:
    """Files at rest (uploaded imports hold whole account numbers), with the same key."""
    return _fernet().encrypt(plain)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken:
        raise VaultError("the stored file cannot be decrypted with the current key (PAYOUT_ENCRYPTION_KEY)") from None


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise VaultError("the stored payout details cannot be decrypted with the current key (PAYOUT_ENCRYPTION_KEY)") from None
