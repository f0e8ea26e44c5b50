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
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# cryptography is imported on first use, not with the models: its OpenSSL bindings are ~11 MB
# of every process's memory, and most worker processes never encrypt or decrypt anything.


class VaultError(ValueError):
    pass


@cache
def _fernet() -> Fernet:
    from cryptography.fernet import Fernet  # noqa: PLC0415 (see above)

    key = settings.PAYOUT_ENCRYPTION_KEY
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(("conveyor.payouts:" + settings.SECRET_KEY).encode()).digest())
    return Fernet(key)


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def encrypt_bytes(plain: bytes) -> bytes:
    """Files at rest (uploaded imports hold whole account numbers), with the same key."""
    return _fernet().encrypt(plain)


def _invalid_token() -> type[Exception]:
    from cryptography.fernet import InvalidToken  # noqa: PLC0415 (see above)

    return InvalidToken


def decrypt_bytes(token: bytes) -> bytes:
    fernet = _fernet()
    try:
        return fernet.decrypt(token)
    except _invalid_token():
        raise VaultError("the stored file cannot be decrypted with the current key (PAYOUT_ENCRYPTION_KEY)") from None


def decrypt(token: str) -> str:
    fernet = _fernet()
    try:
        return fernet.decrypt(token.encode()).decode()
    except _invalid_token():
        raise VaultError("the stored payout details cannot be decrypted with the current key (PAYOUT_ENCRYPTION_KEY)") from None
