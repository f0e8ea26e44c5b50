"""Payouts: approval, providers, encryption, interest (docs/payouts.md)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from config.settings.environment import env

# --- Payouts (docs/payouts.md) -----------------------------------------------
# A payout waits for staff approval when it, plus the payee's payouts of the last
# PAYOUT_APPROVAL_WINDOW seconds that nobody approved, exceeds PAYOUT_APPROVAL_THRESHOLD (so
# splitting an amount does not skip the approval). A request not approved within
# PAYOUT_APPROVAL_TTL seconds expires and its hold on the balance is released.
PAYOUT_APPROVAL_THRESHOLD = env.decimal("PAYOUT_APPROVAL_THRESHOLD", Decimal("1000.00"), minimum=Decimal("0"))
PAYOUT_APPROVAL_WINDOW = env.duration("PAYOUT_APPROVAL_WINDOW", 86400, maximum=31 * 86400, whole=True)
PAYOUT_APPROVAL_TTL = env.duration("PAYOUT_APPROVAL_TTL", 30 * 60, minimum=1, maximum=31 * 86400, whole=True)
# After this many failed calls to the primary provider for one payout, it goes to the fallback.
PAYOUT_FALLBACK_AFTER = env.int("PAYOUT_FALLBACK_AFTER", 3, minimum=1)
PAYOUT_PRIMARY_PROVIDER = env.str("PAYOUT_PRIMARY_PROVIDER", "sandbox")
PAYOUT_FALLBACK_PROVIDER = env.str("PAYOUT_FALLBACK_PROVIDER", "sandbox_backup")
# Fernet key for payout method details at rest; derived from SECRET_KEY when empty.
PAYOUT_ENCRYPTION_KEY = env.str("PAYOUT_ENCRYPTION_KEY", "")
# The sandbox providers: latency in seconds, chance of an error before the transfer, chance
# of a timeout *after* it (the money moved but the caller hears nothing). Per provider:
# SANDBOX_<NAME>_LATENCY etc. override these for one of them (e.g. SANDBOX_SANDBOX_ERROR_RATE).
SANDBOX_LATENCY = env.duration("SANDBOX_LATENCY", 0, maximum=60)
SANDBOX_ERROR_RATE = env.float("SANDBOX_ERROR_RATE", 0.0, minimum=0)
SANDBOX_TIMEOUT_RATE = env.float("SANDBOX_TIMEOUT_RATE", 0.0, minimum=0)
SANDBOX_PROVIDERS = {
    name: {
        "latency": env.duration(f"SANDBOX_{name.upper()}_LATENCY", SANDBOX_LATENCY, maximum=60),
        "error_rate": env.float(f"SANDBOX_{name.upper()}_ERROR_RATE", SANDBOX_ERROR_RATE, minimum=0),
        "timeout_rate": env.float(f"SANDBOX_{name.upper()}_TIMEOUT_RATE", SANDBOX_TIMEOUT_RATE, minimum=0),
    }
    for name in ("sandbox", "sandbox_backup")
}
# Interest credited monthly on each payee's balance at the month's end (annual rate, e.g. 0.02 for
# 2 %); 0 turns the posting off. Posted once per payee and month (docs/payouts.md).
PAYEE_INTEREST_RATE = env.decimal("PAYEE_INTEREST_RATE", Decimal("0"), minimum=Decimal("0"))
# Where payee status (account open or closed) comes from: an adapter class (payouts/sync.py).
PAYEE_STATUS_SOURCE = env.str("PAYEE_STATUS_SOURCE", "payouts.sync.SandboxBankDirectory")
PAYOUT_PROVIDERS = {
    "sandbox": "payouts.providers.SandboxProvider",
    "sandbox_backup": "payouts.providers.SandboxProvider",
}
for _name in (PAYOUT_PRIMARY_PROVIDER, PAYOUT_FALLBACK_PROVIDER):
    if _name not in PAYOUT_PROVIDERS:
        raise ImproperlyConfigured(f"payout provider {_name!r} is not one of {sorted(PAYOUT_PROVIDERS)} (PAYOUT_*_PROVIDER).")
