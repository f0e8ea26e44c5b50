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
# Reconciliation compares the providers' transfers made in this window with the payouts made in it.
PAYOUT_RECONCILIATION_WINDOW = env.duration("PAYOUT_RECONCILIATION_WINDOW", 7 * 86400, minimum=3600, maximum=90 * 86400)

# Wise (payouts.wise.WiseProvider): registered as the "wise" provider when WISE_API_TOKEN is set;
# PAYOUT_PRIMARY_PROVIDER=wise sends payouts through it. docs/payouts.md, "Wise".
WISE_API_TOKEN = env.str("WISE_API_TOKEN", "")
WISE_PROFILE_ID = env.str("WISE_PROFILE_ID", "")  # the business profile paying out
WISE_API_BASE_URL = env.str("WISE_API_BASE_URL", "https://api.wise.com")  # https://api.sandbox.transferwise.tech to rehearse
WISE_SOURCE_CURRENCY = env.str("WISE_SOURCE_CURRENCY", "")  # the balance paid from; empty: the payout's currency
# Wise's public key for its webhooks' signatures (PEM, from Wise's docs). Empty: webhooks are
# refused and the settlement check (every 5 minutes) finds the outcomes instead.
WISE_WEBHOOK_PUBLIC_KEY = env.str("WISE_WEBHOOK_PUBLIC_KEY", "").replace("\\n", "\n")
WISE_TIMEOUT = env.duration("WISE_TIMEOUT", 30, minimum=1, maximum=300)
if WISE_API_TOKEN:
    if not WISE_PROFILE_ID.isdigit():
        raise ImproperlyConfigured("WISE_PROFILE_ID must be the paying profile's number: WISE_API_TOKEN is set")
    PAYOUT_PROVIDERS["wise"] = "payouts.wise.WiseProvider"
if WISE_WEBHOOK_PUBLIC_KEY and "BEGIN PUBLIC KEY" not in WISE_WEBHOOK_PUBLIC_KEY:
    raise ImproperlyConfigured("WISE_WEBHOOK_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----...)")
for _name in (PAYOUT_PRIMARY_PROVIDER, PAYOUT_FALLBACK_PROVIDER):
    if _name not in PAYOUT_PROVIDERS:
        raise ImproperlyConfigured(f"payout provider {_name!r} is not one of {sorted(PAYOUT_PROVIDERS)} (PAYOUT_*_PROVIDER).")
