"""A local server speaking the part of Wise's Platform API that payouts.wise uses, for the real
adapter code to talk to: quotes, recipient accounts, transfers (idempotent on
customerTransactionId), funding from the balance, reading and listing transfers by creation
time, Bearer-token auth, Wise's error bodies, and transfers#state-change events signed with an
RSA key as Wise signs them (the test configures the matching public key).

    with WiseSimulator(token="t", profile=101) as wise:
        ...                            # payouts go through it
        wise.advance(transfer_id, "outgoing_payment_sent")
        body, signature = wise.event(transfer_id)

Faults: ``wise.faults.append((method, path prefix, what))`` where ``what`` is an HTTP status
(answered with an error body) or "drop" (the request is carried out, then the connection is
closed without an answer: the caller cannot know it happened).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.httpservers import JsonHandler, LocalServer

BAD_IBAN = "DE02120300000000202051"  # a valid IBAN that Wise "rejects" here, for the declined path


class WiseSimulator(LocalServer):
    def __init__(self, token: str, profile: int, balance: float = 1_000_000):
        self.token, self.profile, self.balance = token, profile, balance
        self.quotes: dict[str, dict] = {}
        self.accounts: dict[int, dict] = {}
        self.transfers: dict[int, dict] = {}
        self.requests: list[tuple[str, str, dict | None]] = []
        self.faults: list[tuple[str, str, object]] = []
        self.lock = threading.Lock()
        self._ids = iter(range(50_000, 10**9))
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        super().__init__(_Handler)

    @property
    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def next_id(self) -> int:
        return next(self._ids)

    # --- what Wise does on its own ------------------------------------------------------------

    def advance(self, transfer_id: int, state: str) -> None:
        with self.lock:
            self.transfers[transfer_id]["status"] = state

    def add_transfer(
        self, *, key: str, amount: float, currency: str = "EUR", created: datetime, state: str = "outgoing_payment_sent"
    ) -> int:
        """A transfer made outside Conveyor (or long ago), for reconciliation."""
        transfer_id = self.next_id()
        self.transfers[transfer_id] = _transfer(transfer_id, key, amount, currency, 0, state, created)
        return transfer_id

    def event(self, transfer_id: int, *, key=None) -> tuple[bytes, str]:
        """A transfers#state-change event for the transfer as it is now, and its signature."""
        transfer = self.transfers[transfer_id]
        body = json.dumps(
            {
                "data": {
                    "resource": {
                        "type": "transfer",
                        "id": transfer_id,
                        "profile_id": self.profile,
                        "account_id": transfer["targetAccount"],
                    },
                    "current_state": transfer["status"],
                    "previous_state": "processing",
                    "occurred_at": _stamp(datetime.now(UTC)),
                },
                "subscription_id": str(uuid.uuid4()),
                "event_type": "transfers#state-change",
                "schema_version": "2.0.0",
                "sent_at": _stamp(datetime.now(UTC)),
            }
        ).encode()
        signer = key or self._key
        return body, base64.b64encode(signer.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _transfer(transfer_id, key, amount, currency, account, status, created) -> dict:
    return {
        "id": transfer_id,
        "user": 1,
        "targetAccount": account,
        "quoteUuid": None,
        "customerTransactionId": key,
        "status": status,
        "reference": "",
        "rate": 1,
        "created": created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "_created": created,
        "sourceCurrency": currency,
        "sourceValue": amount,
        "targetCurrency": currency,
        "targetValue": amount,
    }


class _Handler(JsonHandler):
    def _error(self, status: int, code: str, message: str, path: str = "") -> None:
        self.answer(status, {"errors": [{"code": code, "message": message, "path": path}]})

    def _handle(self, method: str) -> None:
        sim: WiseSimulator = self.server.owner
        url = urlsplit(self.path)
        raw = self.body()
        body = json.loads(raw) if raw else None
        sim.requests.append((method, url.path, body if body is not None else parse_qs(url.query)))
        if self.headers.get("Authorization") != f"Bearer {sim.token}":
            return self._error(401, "unauthorized", "Invalid token")
        drop = False
        for fault in list(sim.faults):
            if fault[0] == method and url.path.startswith(fault[1]):
                sim.faults.remove(fault)
                if fault[2] == "drop":
                    drop = True
                else:
                    return self._error(int(fault[2]), "error", f"simulated {fault[2]}")
                break
        with sim.lock:
            status, answer = self._route(sim, method, url, body)
        if drop:  # done, but the caller hears nothing
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if status >= 400:
            return self._error(status, *answer)
        self.answer(status, answer)

    def _route(self, sim: WiseSimulator, method: str, url, body):
        parts = url.path.strip("/").split("/")
        profile_path = f"v3/profiles/{sim.profile}"
        if method == "POST" and url.path == f"/{profile_path}/quotes":
            quote = {"id": str(uuid.uuid4()), "targetAmount": body["targetAmount"], "targetCurrency": body["targetCurrency"]}
            sim.quotes[quote["id"]] = quote
            return 200, quote
        if method == "POST" and url.path == "/v1/accounts":
            details = body.get("details", {})
            if body.get("type") == "iban" and details.get("IBAN") == BAD_IBAN:
                return 422, ("NOT_VALID", "IBAN is not accepted for this currency", "IBAN")
            if not body.get("accountHolderName"):
                return 422, ("NOT_VALID", "Please enter the recipient's name", "accountHolderName")
            account_id = sim.next_id()
            sim.accounts[account_id] = body
            return 200, {"id": account_id, **body}
        if method == "POST" and url.path == "/v1/transfers":
            key = body["customerTransactionId"]
            for existing in sim.transfers.values():
                if existing["customerTransactionId"] == key:
                    return 200, _public(existing)
            quote = sim.quotes.get(body["quoteUuid"])
            if quote is None or body["targetAccount"] not in sim.accounts:
                return 422, ("NOT_VALID", "unknown quote or account", "quoteUuid")
            transfer_id = sim.next_id()
            sim.transfers[transfer_id] = _transfer(
                transfer_id,
                key,
                quote["targetAmount"],
                quote["targetCurrency"],
                body["targetAccount"],
                "incoming_payment_waiting",
                datetime.now(UTC),
            )
            sim.transfers[transfer_id]["reference"] = body.get("details", {}).get("reference", "")
            return 200, _public(sim.transfers[transfer_id])
        if method == "POST" and len(parts) == 6 and url.path.startswith(f"/{profile_path}/transfers/") and parts[5] == "payments":
            transfer = sim.transfers.get(int(parts[4]))
            if transfer is None:
                return 404, ("NOT_FOUND", "transfer not found", "")
            if transfer["status"] != "incoming_payment_waiting":
                return 200, {"type": "BALANCE", "status": "COMPLETED", "errorCode": None}
            if sim.balance < transfer["sourceValue"]:
                return 200, {"type": "BALANCE", "status": "REJECTED", "errorCode": "transfer.insufficient_funds"}
            sim.balance -= transfer["sourceValue"]
            transfer["status"] = "processing"
            return 200, {"type": "BALANCE", "status": "COMPLETED", "errorCode": None}
        if method == "GET" and len(parts) == 3 and url.path.startswith("/v1/transfers/"):
            transfer = sim.transfers.get(int(parts[2])) if parts[2].isdigit() else None
            return (200, _public(transfer)) if transfer else (404, ("NOT_FOUND", "transfer not found", ""))
        if method == "GET" and url.path == "/v1/transfers":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            rows = sorted(sim.transfers.values(), key=lambda t: (t["_created"], t["id"]))
            if "createdDateStart" in query:
                rows = [t for t in rows if t["_created"] >= _parse(query["createdDateStart"])]
            if "createdDateEnd" in query:
                rows = [t for t in rows if t["_created"] < _parse(query["createdDateEnd"])]
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
            return 200, [_public(t) for t in rows[offset : offset + limit]]
        return 404, ("NOT_FOUND", f"no route {method} {url.path}", "")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")


def _public(transfer: dict) -> dict:
    return {k: v for k, v in transfer.items() if not k.startswith("_")}
