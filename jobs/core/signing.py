"""Signed HTTP bodies: what Conveyor's outgoing webhooks carry (push today) and how a receiver
checks them. Pure (no Django).

The header is ``Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``,
the scheme Stripe uses: the timestamp is signed with the body, so a captured request cannot be
replayed later than ``tolerance`` seconds; several v1 values may be sent while a secret rotates.

    header = sign(secret, body)
    verify(secret, body, header)  # raises BadSignature
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE = 300  # seconds a signature stays acceptable


class BadSignature(ValueError):
    pass


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    if not secret:
        raise ValueError("a webhook secret is required to sign")
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, *, tolerance: float = TOLERANCE, now: float | None = None) -> None:
    """Raise BadSignature unless ``header`` signs ``body`` with ``secret`` within ``tolerance``."""
    parts = [p.partition("=") for p in (header or "").split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    macs = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not macs:
        raise BadSignature("the signature header is not t=<seconds>,v1=<hex>")
    timestamp = int(stamps[0])
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise BadSignature("the signature's timestamp is too old or in the future")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, m) for m in macs):
        raise BadSignature("the signature does not match")
