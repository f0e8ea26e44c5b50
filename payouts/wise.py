"""Payouts through Wise (wise.com) Platform API: bank transfers to IBANs and US accounts, paid
from the Wise balance, settled asynchronously.

One payout is a quote for the amount the payee gets, a recipient account made from the payee's
checked details (payouts.destinations), a transfer carrying the payout's idempotency key as
Wise's ``customerTransactionId`` (a repeat returns the transfer already made, never a second
one), and its funding from the balance. Wise answers the transfer ``processing``: the payout is
``sent`` until Wise's ``transfers#state-change`` webhook (signed with Wise's RSA key, checked
against WISE_WEBHOOK_PUBLIC_KEY) or the settlement check (payouts.check_sent) finds it
``outgoing_payment_sent`` (paid) or cancelled, refunded or bounced back (failed; after paid:
returned by the bank).

Plain HTTP with requests: Wise publishes no maintained Python client (docs/decisions.md 49).
Tested against a local simulator of these endpoints (tests/payouts/wise_simulator.py).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import requests  # this module loads only where Wise is the configured provider (settings.PAYOUT_PROVIDERS)
from django.conf import settings

from payouts.providers import FAILED, PAID, PENDING, Provider, ProviderDeclined, ProviderError, ProviderTimeout, Transfer, WebhookRefused

log = logging.getLogger(__name__)

STATUS = {
    "incoming_payment_waiting": PENDING,
    "incoming_payment_initiated": PENDING,
    "processing": PENDING,
    "funds_converted": PENDING,
    "waiting_recipient_input_to_proceed": PENDING,
    "outgoing_payment_sent": PAID,
    "cancelled": FAILED,
    "funds_refunded": FAILED,
    "bounced_back": FAILED,
    "charged_back": FAILED,
}
PAGE = 100  # transfers per list call
LOOKUP_MARGIN = timedelta(minutes=5)  # a transfer is created after its payout; clocks differ a little


class WiseProvider(Provider):
    def __init__(self, name: str):
        self.name = name
        self._local = threading.local()

    # --- HTTP ---------------------------------------------------------------------------

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {settings.WISE_API_TOKEN}"
        return session

    def _call(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None, moves_money: bool = False):
        """One API call. Errors: 400/404/422 refuse the payout (ProviderDeclined, Wise's messages);
        401/403, 429 and 5xx are ProviderError; no answer is ProviderTimeout where the call may
        have moved money (``moves_money``), else ProviderError."""
        url = settings.WISE_API_BASE_URL.rstrip("/") + path
        try:
            response = self._session().request(method, url, json=body, params=params, timeout=settings.WISE_TIMEOUT)
        except requests.RequestException as exc:
            kind = ProviderTimeout if moves_money else ProviderError
            raise kind(f"{self.name}: {method} {path}: {type(exc).__name__}") from None
        if response.status_code < 300:
            return response.json() if response.content else {}
        detail = _errors(response)
        if response.status_code in (400, 404, 409, 422):
            raise ProviderDeclined(f"{self.name}: {detail}")
        raise ProviderError(f"{self.name}: {method} {path} answered {response.status_code}: {detail}")

    # --- the provider contract ------------------------------------------------------------

    def transfer(self, key, amount, currency, account, destination, payee=None, memo: str = "") -> Transfer:
        if payee is None:
            raise ProviderDeclined(f"{self.name}: a transfer needs the payee's details")
        recipient = self._recipient(payee, currency, account)
        profile = settings.WISE_PROFILE_ID
        quote = self._call(
            "POST",
            f"/v3/profiles/{profile}/quotes",
            body={
                "sourceCurrency": settings.WISE_SOURCE_CURRENCY or currency,
                "targetCurrency": currency,
                "targetAmount": float(amount),
                "targetAccount": recipient,
                "payOut": "BANK_TRANSFER",
            },
        )
        created = self._call(
            "POST",
            "/v1/transfers",
            body={"targetAccount": recipient, "quoteUuid": quote["id"], "customerTransactionId": key, "details": {"reference": memo[:35]}},
            moves_money=True,
        )
        transfer = self._transfer(created)
        if transfer.amount != amount or transfer.currency != currency:
            raise ProviderDeclined(f"{self.name}: idempotency key {key} was used for {transfer.amount} {transfer.currency}")
        if created.get("status") == "incoming_payment_waiting":
            funding = self._call(
                "POST", f"/v3/profiles/{profile}/transfers/{created['id']}/payments", body={"type": "BALANCE"}, moves_money=True
            )
            if funding.get("status") != "COMPLETED":
                # The transfer waits unfunded; the retry finds it under the same key and funds it.
                raise ProviderError(
                    f"{self.name}: funding transfer {created['id']} from the balance: {funding.get('errorCode') or funding.get('status')}"
                )
            return self.lookup(key, reference=str(created["id"])) or transfer
        return transfer

    def lookup(self, key, *, since=None, reference: str = "") -> Transfer | None:
        """The transfer under ``key``: fetched by its id when known, else found in the list of
        transfers made since ``since`` (the payout's creation; Wise cannot filter by key)."""
        if reference:
            try:
                found = self._transfer(self._call("GET", f"/v1/transfers/{reference}"))
            except ProviderDeclined:  # 404: not under that id; look in the list
                found = None
            if found is not None and found.key == key:
                return found
        start = (since - LOOKUP_MARGIN) if since else None
        for transfer in self.transfers(since=start):
            if transfer.key == key:
                return transfer
        return None

    def transfers(self, since=None, until=None) -> list[Transfer]:
        params: dict = {"profile": settings.WISE_PROFILE_ID, "limit": PAGE, "offset": 0}
        if since is not None:
            params["createdDateStart"] = _iso(since)
        if until is not None:
            params["createdDateEnd"] = _iso(until)
        found: list[Transfer] = []
        while True:
            page = self._call("GET", "/v1/transfers", params=params)
            found += [self._transfer(item) for item in page]
            if len(page) < PAGE:
                return found
            params["offset"] += PAGE

    def webhook(self, request) -> list[Transfer]:
        """Wise's ``transfers#state-change`` event, its RSA-SHA256 signature checked over the raw
        body; the transfer is then read from the API, so events arriving twice or out of order
        apply what holds now."""
        if not settings.WISE_WEBHOOK_PUBLIC_KEY:
            raise WebhookRefused(f"{self.name}: WISE_WEBHOOK_PUBLIC_KEY is not set; the settlement check polls instead")
        if not _signed_by_wise(request.body, request.headers.get("X-Signature-SHA256", "")):
            raise WebhookRefused(f"{self.name}: the signature does not verify")
        if request.headers.get("X-Test-Notification") == "true":
            return []
        try:
            event = json.loads(request.body)
            if event.get("event_type") != "transfers#state-change":
                return []
            transfer_id = int(event["data"]["resource"]["id"])
        except (ValueError, KeyError, TypeError):
            raise WebhookRefused(f"{self.name}: not a transfer state change", status=400) from None
        return [self._transfer(self._call("GET", f"/v1/transfers/{transfer_id}"))]

    # --- helpers -----------------------------------------------------------------------

    def _recipient(self, payee, currency: str, account: str) -> int:
        details: dict = {"legalType": "PRIVATE"}
        if payee.account_scheme == "iban":
            kind = "iban"
            details.update({"IBAN": account, **({"BIC": payee.bic} if payee.bic else {})})
        elif payee.account_scheme == "us_aba":
            kind = "aba"
            details.update({"abartn": payee.routing_number, "accountNumber": account, "accountType": "CHECKING"})
        else:
            raise ProviderDeclined(
                f"{self.name}: the payee's bank details are not an IBAN or a US account with a routing number; enter them again"
            )
        if not payee.beneficiary_name:
            raise ProviderDeclined(f"{self.name}: the payee has no account holder's name")
        body = {
            "profile": settings.WISE_PROFILE_ID,
            "accountHolderName": payee.beneficiary_name,
            "currency": currency,
            "type": kind,
            "details": details,
        }
        return int(self._call("POST", "/v1/accounts", body=body)["id"])

    def _transfer(self, data: dict) -> Transfer:
        state = str(data.get("status", ""))
        return Transfer(
            provider=self.name,
            key=str(data.get("customerTransactionId", "")),
            reference=str(data["id"]),
            amount=Decimal(str(data.get("targetValue", "0"))).quantize(Decimal("0.01")),
            currency=str(data.get("targetCurrency", "")),
            status=STATUS.get(state, PENDING),
            detail=state,
        )


def _errors(response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or str(response.status_code)
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        return "; ".join(f"{e.get('path') or e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    return str(data.get("message") or data.get("error") or response.reason) if isinstance(data, dict) else response.reason


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _signed_by_wise(body: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415  (loaded on first use)
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import padding  # noqa: PLC0415

    try:
        key = serialization.load_pem_public_key(settings.WISE_WEBHOOK_PUBLIC_KEY.encode())
        key.verify(base64.b64decode(signature, validate=True), body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
