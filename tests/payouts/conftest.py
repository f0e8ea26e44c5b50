"""Payees with money, and providers whose next outcomes a test decides."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from jobs.core.states import State
from jobs.models import JobRecord
from jobs.ops.sweep import sweep
from payouts import providers, services
from payouts.models import SandboxTransfer
from payouts.providers import ProviderDeclined, ProviderError, ProviderTimeout, SandboxProvider

_names = itertools.count()


class ScriptedProvider(SandboxProvider):
    """A sandbox whose next calls follow a script: "error" (nothing moves), "timeout" (the money
    moves, the answer is lost), "decline" (refused for good), "lookup_error" (the next lookup
    fails); then it behaves."""

    scripts: dict[str, list[str]] = {}

    def transfer(self, key, amount, currency, account, destination, payee=None, memo=""):
        step = self._next(("error", "timeout", "decline"))
        if step == "error":
            raise ProviderError(f"{self.name}: scripted error")
        if step == "decline":
            raise ProviderDeclined(f"{self.name}: scripted decline")
        transfer = super().transfer(key, amount, currency, account, destination)
        if step == "timeout":
            raise ProviderTimeout(f"{self.name}: scripted timeout after the transfer")
        return transfer

    def lookup(self, key, **kwargs):
        if self._next(("lookup_error",)) == "lookup_error":
            raise ProviderError(f"{self.name}: scripted lookup error")
        return super().lookup(key, **kwargs)

    def _next(self, kinds):
        script = self.scripts.get(self.name, [])
        if script and script[0] in kinds:
            return script.pop(0)
        return None


@pytest.fixture
def script(settings):
    """script("sandbox", "error", "timeout", ...): the next outcomes of that provider."""
    settings.PAYOUT_PROVIDERS = {
        "sandbox": "tests.payouts.conftest.ScriptedProvider",
        "sandbox_backup": "tests.payouts.conftest.ScriptedProvider",
    }
    ScriptedProvider.scripts = {}
    providers.get_provider.cache_clear()

    def add(name, *steps):
        ScriptedProvider.scripts.setdefault(name, []).extend(steps)

    yield add
    ScriptedProvider.scripts = {}
    providers.get_provider.cache_clear()


@pytest.fixture(autouse=True)
def fresh_providers():
    providers.get_provider.cache_clear()
    yield
    providers.get_provider.cache_clear()


@pytest.fixture
def make_payee(db):
    def make(balance="100.00", currency="EUR", account="DE89370400440532013000", threshold="10.00", email=None):
        n = next(_names)
        user = get_user_model().objects.create_user(
            f"payee{n}", email or f"payee{n}@example.com", "pw", first_name="Pat", last_name=f"Payee{n}"
        )
        payee = services.payee_create(user, currency=currency, account=account, threshold=Decimal(threshold))
        if Decimal(balance) > 0:
            services.ledger_credit(payee.pk, balance, memo="opening balance")
        payee.refresh_from_db()
        return payee

    return make


def transfers(payout=None, provider=None) -> int:
    query = SandboxTransfer.objects.all()
    if payout is not None:
        query = query.filter(idempotency_key=str(payout.idempotency_key))
    if provider is not None:
        query = query.filter(provider=provider)
    return query.count()


@pytest.fixture
def drain(run_worker):
    """Run every job that can run now, including retries (their backoff skipped), until none is left."""

    def run(rounds: int = 12) -> None:
        for _ in range(rounds):
            JobRecord.objects.filter(state=State.RETRYING).update(run_at=timezone.now())
            sweep()
            run_worker()
            if not JobRecord.objects.filter(state__in=(State.QUEUED, State.RETRYING, State.PENDING)).exists():
                return
        raise AssertionError("jobs still waiting after draining")

    return run
