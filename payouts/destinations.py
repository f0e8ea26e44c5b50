"""Where a payee's money goes, checked when it is entered: an IBAN (and its BIC), a US bank
account with its ABA routing number, or a wallet id.

    details = check_destination("bank", "DE89 3704 0044 0532 0130 00", bic="", routing_number="", beneficiary_name="Ann Lee")
    details.account == "DE89370400440532013000"; details.scheme == "iban"; details.bic == "COBADEFFXXX"

IBANs and BICs are checked by schwifty (the country's length and format, the check digits,
the BIC's country against the IBAN's, and the BIC filled from the bank registry when the
IBAN's bank is in it). A US account is 4 to 17 digits with a 9-digit routing number whose
ABA check digit holds. Anything else given for a bank account is kept as an account number
without a scheme ("other"): the sandbox providers take it, a real provider refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from payouts.errors import PayoutError

IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{8,30}$")
BENEFICIARY_MAX = 70  # SEPA's limit for a creditor's name


@dataclass(frozen=True)
class Destination:
    account: str
    scheme: str  # "iban", "us_aba", "other" (a bank account without a scheme), "wallet"
    bic: str = ""
    routing_number: str = ""
    beneficiary_name: str = ""


def aba_check_digit_holds(routing: str) -> bool:
    """The ABA routing number's checksum: 3, 7, 1 weights over its nine digits, a multiple of 10."""
    digits = [int(c) for c in routing]
    return sum(w * d for w, d in zip([3, 7, 1] * 3, digits)) % 10 == 0


def compact_account(account: str) -> str:
    """An account number without spaces or dashes, upper case: how an IBAN or a US account is
    stored, and how two spellings of one account compare equal."""
    return re.sub(r"[\s-]", "", account).upper()


def check_destination(method: str, account, *, bic="", routing_number="", beneficiary_name="") -> Destination:
    """The normalised destination, or PayoutError naming the field at fault."""
    if not isinstance(account, str) or not account.strip():
        raise PayoutError("account", "is required")
    for name, value in (("bic", bic), ("routing_number", routing_number), ("beneficiary_name", beneficiary_name)):
        if not isinstance(value, str):
            raise PayoutError(name, "must be text")
    name = " ".join(beneficiary_name.split())
    if len(name) > BENEFICIARY_MAX:
        raise PayoutError("beneficiary_name", f"must be at most {BENEFICIARY_MAX} characters")
    if method == "wallet":
        account = account.strip()
        if not 4 <= len(account) <= 64:
            raise PayoutError("account", "must be 4 to 64 characters")
        if bic.strip() or routing_number.strip():
            raise PayoutError("bic" if bic.strip() else "routing_number", "applies to bank accounts only")
        return Destination(account, "wallet", beneficiary_name=name)
    compact = compact_account(account)
    routing = re.sub(r"[\s-]", "", routing_number)
    if routing:
        if not (routing.isdigit() and len(routing) == 9 and aba_check_digit_holds(routing)):
            raise PayoutError("routing_number", "must be a 9-digit ABA routing number whose check digit holds")
        if not (compact.isdigit() and 4 <= len(compact) <= 17):
            raise PayoutError("account", "a US account number is 4 to 17 digits")
        if bic.strip():
            raise PayoutError("bic", "give a BIC with an IBAN, not with a routing number")
        return Destination(compact, "us_aba", routing_number=routing, beneficiary_name=name)
    if IBAN_SHAPE.match(compact):
        return _iban(compact, bic.strip().upper(), name)
    if bic.strip():
        raise PayoutError("bic", "give a BIC with an IBAN")
    if not 4 <= len(account.strip()) <= 64:
        raise PayoutError("account", "must be 4 to 64 characters")
    return Destination(account.strip(), "other", beneficiary_name=name)


def _iban(compact: str, bic: str, name: str) -> Destination:
    # schwifty loads its bank registry on import (about 10 MB): only where details are entered.
    from schwifty import BIC, IBAN  # noqa: PLC0415
    from schwifty.exceptions import SchwiftyException  # noqa: PLC0415

    try:
        iban = IBAN(compact)
    except SchwiftyException as exc:
        raise PayoutError("account", f"is not a valid IBAN: {str(exc).rstrip('.').lower()}") from None
    if bic:
        try:
            checked = BIC(bic)
        except SchwiftyException as exc:
            raise PayoutError("bic", f"is not a valid BIC: {str(exc).rstrip('.').lower()}") from None
        if checked.country_code != iban.country_code:
            raise PayoutError("bic", f"is a bank in {checked.country_code}, the IBAN's is in {iban.country_code}")
        bic = str(checked.compact)
    else:
        try:
            found = iban.bic
        except SchwiftyException:
            found = None
        bic = str(found.compact) if found else ""
    return Destination(str(iban.compact), "iban", bic=bic, beneficiary_name=name)
