"""Payees and the ledger: creating and editing payee accounts, their bank details (encrypted), and credits."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from audit.services import audit
from payouts.errors import PayoutError
from payouts.models import LedgerEntry, Payee
from payouts.services import locks
from payouts.services.base import _adjust, _amount, _currency


def payee_create(
    user, *, currency: str, account: str, method: str = Payee.Method.BANK, threshold=Decimal("10.00"), actor=None, reason: str = ""
) -> Payee:
    if not isinstance(currency, str) or len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise PayoutError("currency", "must be a three-letter ISO 4217 code such as EUR")
    if not isinstance(account, str) or not 4 <= len(account.strip()) <= 64:
        raise PayoutError("account", "must be 4 to 64 characters")
    if method not in Payee.Method.values:
        raise PayoutError("method", f"must be one of {', '.join(Payee.Method.values)}")
    threshold = _amount(threshold, "threshold")
    if Payee.objects.filter(user=user).exists():
        raise PayoutError("user", f"{user.get_username()} already has a payee account")
    payee = Payee(user=user, currency=currency.upper(), method=method, threshold=threshold)
    payee.set_account(account.strip())
    payee.save()
    audit(actor, "payee.create", "payee", payee.pk, reason, currency=payee.currency, destination=payee.destination)
    return payee


def payee_update(payee_id, *, actor, reason: str = "", **changes) -> Payee:
    """Change a payee's currency (only while its ledger is empty), method, threshold or active
    flag; audited with what changed. The account number has its own service (payee_set_account)."""
    unknown = set(changes) - {"currency", "method", "threshold", "active"}
    if unknown:
        raise PayoutError(sorted(unknown)[0], "cannot be changed here")
    with transaction.atomic():
        payee = locks.payee(payee_id)
        if "currency" in changes:
            currency = changes["currency"]
            if not isinstance(currency, str) or len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
                raise PayoutError("currency", "must be a three-letter ISO 4217 code such as EUR")
            changes["currency"] = currency.upper()
            if changes["currency"] != payee.currency and payee.ledger.exists():
                raise PayoutError("currency", "cannot change once the ledger has entries")
        if "method" in changes and changes["method"] not in Payee.Method.values:
            raise PayoutError("method", f"must be one of {', '.join(Payee.Method.values)}")
        if "threshold" in changes:
            changes["threshold"] = _amount(changes["threshold"], "threshold")
        if "active" in changes and not isinstance(changes["active"], bool):
            raise PayoutError("active", "must be true or false")
        changed = {name: value for name, value in changes.items() if getattr(payee, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(payee, name, value)
            payee.save(update_fields=list(changed))
            audit(actor, "payee.update", "payee", payee.pk, reason, **{name: str(value) for name, value in changed.items()})
    return payee


def payee_set_account(payee_id, account: str, *, actor, reason: str = "") -> Payee:
    if not isinstance(account, str) or not 4 <= len(account.strip()) <= 64:
        raise PayoutError("account", "must be 4 to 64 characters")
    with transaction.atomic():
        payee = locks.payee(payee_id)
        payee.set_account(account.strip())
        payee.save(update_fields=["method_secret", "method_last4"])
        audit(actor, "payee.set_account", "payee", payee.pk, reason, destination=payee.destination)
    return payee


def ledger_credit(payee_id, amount, *, currency=None, memo: str = "", reference: str = "", actor=None, reason: str = "") -> LedgerEntry:
    """Add money to a payee's balance. A repeated ``reference`` for the same payee is refused,
    so a credit posted twice by an importer or a retried request counts once."""
    amount = _amount(amount)
    reference = (reference or "").strip()[:100]
    with transaction.atomic():
        payee = locks.payee(payee_id)
        currency = _currency(payee, currency)
        if reference and LedgerEntry.objects.filter(payee=payee, reference=reference).exists():
            raise PayoutError("reference", f"a credit with reference {reference!r} was already posted for this payee")
        entry = LedgerEntry.objects.create(
            payee=payee,
            kind=LedgerEntry.Kind.CREDIT,
            amount=amount,
            currency=currency,
            memo=memo[:255],
            reference=reference,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        _adjust(payee.pk, balance=amount)
        audit(actor, "ledger.credit", "payee", payee.pk, reason or memo, amount=str(amount), currency=currency, reference=reference)
    return entry
