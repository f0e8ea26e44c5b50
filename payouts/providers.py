"""Payout providers: the interface the processor calls, and sandbox providers that behave
like real ones (latency, errors, timeouts after the money moved, idempotency keys).

A provider call is made outside any database transaction: it is a call to another
system, whose outcome the processor records afterwards.

Contract every provider keeps (a real adapter maps its API onto it):

* ``transfer(key, ...)`` moves money at most once per idempotency key. Repeating a
  key returns the first transfer; repeating it with another amount is refused.
* ``lookup(key)`` says whether a transfer with that key exists, definitively, and its
  status now. The processor relies on it before giving up on a provider or a payout.
* A transfer's ``status``: ``paid`` (final: the sandboxes' at once), ``pending`` (taken,
  not settled: the payout waits as ``sent`` for a webhook or the settlement check),
  ``failed`` (nothing reached the payee; after ``paid`` it means the bank returned it).
* ``transfers(since, until)`` lists the provider's own transfers created in that window
  (reconciliation reads it).
* Errors: ``ProviderDeclined`` (permanent: nothing moved, do not retry);
  ``ProviderError`` (nothing known to have moved: retry); ``ProviderTimeout``
  (a ProviderError whose outcome is unknown: the money may have moved).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from payouts.models import SandboxTransfer


class ProviderError(Exception):
    """Nothing is known to have moved; the call may be retried with the same key."""


class ProviderTimeout(ProviderError):
    """No answer: the transfer may or may not have happened."""


class ProviderDeclined(Exception):
    """Refused for good (invalid account, key reused with another amount): nothing moved."""


PAID, PENDING, FAILED = "paid", "pending", "failed"


@dataclass(frozen=True)
class Transfer:
    provider: str
    key: str
    reference: str
    amount: Decimal
    currency: str
    status: str = PAID
    detail: str = ""  # the provider's word for its state, or why it failed


class Provider:
    name: str

    def transfer(self, key: str, amount: Decimal, currency: str, account: str, destination: str, payee=None, memo: str = "") -> Transfer:
        """``payee``: the Payee (its checked details: scheme, BIC, routing number, holder's name);
        ``memo``: the reference the payee's bank statement shows."""
        raise NotImplementedError

    def lookup(self, key: str, *, since=None, reference: str = "") -> Transfer | None:
        """``since``: when the payout was created (a provider that lists by time looks from
        there); ``reference``: the provider's id for the transfer, when known."""
        raise NotImplementedError

    def transfers(self, since=None, until=None) -> list[Transfer]:
        """The transfers created in [since, until) (None: unbounded); reconciliation compares
        them with the ledger."""
        raise NotImplementedError

    def webhook(self, request) -> list[Transfer]:
        """The transfers a provider's signed notification is about, as they stand now; raises
        WebhookRefused when it is not the provider's (payouts.views.provider_webhook)."""
        raise WebhookRefused(f"{self.name} sends no webhooks")


class WebhookRefused(Exception):
    """A notification that is not verifiably the provider's: answered 400/403, nothing changed."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.status = status


class SandboxProvider(Provider):
    """Keeps its books in the SandboxTransfer table, committed at once like a remote system.

    Accounts starting with "0000" are declined, so tests and demos can show a failure."""

    def __init__(self, name: str, latency: float = 0.0, error_rate: float = 0.0, timeout_rate: float = 0.0, rng=None):
        self.name, self.latency, self.error_rate, self.timeout_rate = name, latency, error_rate, timeout_rate
        self.rng = rng or random.Random()

    def transfer(self, key, amount, currency, account, destination, payee=None, memo: str = "") -> Transfer:
        if self.latency:
            time.sleep(self.latency)
        if self.rng.random() < self.error_rate:
            raise ProviderError(f"{self.name}: service unavailable (injected)")
        if account.startswith("0000"):
            raise ProviderDeclined(f"{self.name}: account {destination} rejected the transfer")
        try:
            with transaction.atomic():
                row, _ = SandboxTransfer.objects.get_or_create(
                    provider=self.name,
                    idempotency_key=key,
                    defaults={
                        "amount": amount,
                        "currency": currency,
                        "destination": destination[:64],
                        "reference": f"{self.name}-{uuid.uuid4().hex[:16]}",
                    },
                )
        except IntegrityError:  # the same key, concurrently: the other call's transfer stands
            row = SandboxTransfer.objects.get(provider=self.name, idempotency_key=key)
        if row.amount != amount or row.currency != currency:
            raise ProviderDeclined(f"{self.name}: idempotency key {key} was used for {row.amount} {row.currency}")
        if self.rng.random() < self.timeout_rate:
            raise ProviderTimeout(f"{self.name}: timed out waiting for the answer (injected; the money moved)")
        return self._transfer(row)

    def lookup(self, key, *, since=None, reference: str = "") -> Transfer | None:
        row = SandboxTransfer.objects.filter(provider=self.name, idempotency_key=key).first()
        return self._transfer(row) if row else None

    def transfers(self, since=None, until=None) -> list[Transfer]:
        rows = SandboxTransfer.objects.filter(provider=self.name)
        if since is not None:
            rows = rows.filter(created_at__gte=since)
        if until is not None:
            rows = rows.filter(created_at__lt=until)
        return [self._transfer(row) for row in rows.iterator()]

    def _transfer(self, row) -> Transfer:
        return Transfer(self.name, row.idempotency_key, row.reference, row.amount, row.currency)


@cache
def get_provider(name: str) -> Provider:
    try:
        path = settings.PAYOUT_PROVIDERS[name]
    except KeyError:
        raise LookupError(f"unknown payout provider {name!r}; known: {', '.join(sorted(settings.PAYOUT_PROVIDERS))}") from None
    cls = import_string(path)
    return cls(name, **getattr(settings, "SANDBOX_PROVIDERS", {}).get(name, {})) if issubclass(cls, SandboxProvider) else cls(name)


def primary() -> Provider:
    return get_provider(settings.PAYOUT_PRIMARY_PROVIDER)


def fallback() -> Provider:
    return get_provider(settings.PAYOUT_FALLBACK_PROVIDER)
