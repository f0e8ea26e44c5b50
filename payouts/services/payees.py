"""Payees and the ledger: creating and editing payee accounts, their bank details (encrypted), and credits."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from audit.services import audit
from payouts.destinations import BENEFICIARY_MAX, Destination, check_destination
from payouts.errors import PayoutError
from payouts.models import LedgerEntry, Payee
from payouts.services import locks
from payouts.services.base import _adjust, _amount, _currency


def payee_create(
    user,
    *,
    currency: str,
    account: str,
    method: str = Payee.Method.BANK,
    threshold=Decimal("10.00"),
    beneficiary_name: str = "",
    bic: str = "",
    routing_number: str = "",
    actor=None,
    reason: str = "",
) -> Payee:
    """A payee and where its money goes: an IBAN (BIC optional, found from the IBAN where the
    bank registry knows it), a US account with its routing number, or a wallet id; checked by
    payouts.destinations. The holder's name defaults to the user's full name."""
    if not isinstance(currency, str) or len(currency) != 3 or not (currency.isascii() and currency.isalpha()):
        raise PayoutError("currency", "must be a three-letter ISO 4217 code such as EUR")
    if method not in Payee.Method.values:
        raise PayoutError("method", f"must be one of {', '.join(Payee.Method.values)}")
    destination = check_destination(
        method, account, bic=bic, routing_number=routing_number, beneficiary_name=beneficiary_name or user.get_full_name()
    )
    threshold = _amount(threshold, "threshold")
    if Payee.objects.filter(user=user).exists():
        raise PayoutError("user", f"{user.get_username()} already has a payee account")
    payee = Payee(user=user, currency=currency.upper(), method=method, threshold=threshold)
    _set(payee, destination)
    payee.save()
    audit(actor, "payee.create", "payee", payee.pk, reason, currency=payee.currency, destination=payee.destination)
    return payee


def _set(payee: Payee, destination: Destination) -> None:
    payee.set_account(destination.account, scheme=destination.scheme, bic=destination.bic, routing_number=destination.routing_number)
    payee.beneficiary_name = destination.beneficiary_name


def payee_update(payee_id, *, actor, reason: str = "", **changes) -> Payee:
    """Change a payee's currency (only while its ledger is empty), method, threshold, active
    flag or account holder's name; audited with what changed. The account number has its own service (payee_set_account)."""
    unknown = set(changes) - {"currency", "method", "threshold", "active", "beneficiary_name"}
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
        if "beneficiary_name" in changes:
            name = changes["beneficiary_name"]
            if not isinstance(name, str) or len(" ".join(name.split())) > BENEFICIARY_MAX:
                raise PayoutError("beneficiary_name", f"must be text of at most {BENEFICIARY_MAX} characters")
            changes["beneficiary_name"] = " ".join(name.split())
        changed = {name: value for name, value in changes.items() if getattr(payee, name) != value}
        if changed:
            for name, value in changed.items():
                setattr(payee, name, value)
            payee.save(update_fields=list(changed))
            audit(actor, "payee.update", "payee", payee.pk, reason, **{name: str(value) for name, value in changed.items()})
    return payee


def payee_set_account(
    payee_id, account: str, *, bic: str = "", routing_number: str = "", beneficiary_name: str | None = None, actor, reason: str = ""
) -> Payee:
    """New bank details (or wallet id) for a payee, checked as at creation; the holder's name
    stays unless given."""
    with transaction.atomic():
        payee = locks.payee(payee_id)
        name = payee.beneficiary_name if beneficiary_name is None else beneficiary_name
        destination = check_destination(payee.method, account, bic=bic, routing_number=routing_number, beneficiary_name=name)
        _set(payee, destination)
        payee.save(update_fields=["method_secret", "method_last4", "account_scheme", "bic", "routing_number", "beneficiary_name"])
        audit(actor, "payee.set_account", "payee", payee.pk, reason, destination=payee.destination, scheme=payee.account_scheme)
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
