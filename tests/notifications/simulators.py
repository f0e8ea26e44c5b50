"""Local HTTP servers that speak the providers' protocols, for the real client code to talk to.

TwilioSimulator: the Messages API (POST /2010-04-01/Accounts/<sid>/Messages.json) with HTTP
basic auth (account SID, auth token), Twilio's error bodies ({"code", "message", "status"}) and
its status codes. What it answers depends on the number sent to, like Twilio's test numbers:

    +15005550001  400, code 21211 (invalid 'To' number)
    +15005550009  400, code 21610 (unsubscribed recipient)
    +15005550429  429 with Retry-After: 7
    +15005550500  500
    anything else 201, a message resource with a new SM... sid

PushReceiver: an endpoint for the signed push webhook, checking the signature as a receiver
would (jobs.core.signing.verify) and answering by token ("gone" 410, "busy" 503, else 200).
"""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import parse_qs

from jobs.core.signing import BadSignature, verify
from tests.httpservers import JsonHandler, LocalServer

ERRORS = {
    "+15005550001": (400, 21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550009": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "+15005550429": (429, 20429, "Too Many Requests"),
    "+15005550500": (500, 20500, "Internal Server Error"),
}


class TwilioSimulator(LocalServer):
    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.requests: list[dict] = []
        super().__init__(_TwilioHandler)


class _TwilioHandler(JsonHandler):
    def do_POST(self):
        owner: TwilioSimulator = self.server.owner
        form = {k: v[0] for k, v in parse_qs(self.body().decode()).items()}
        owner.requests.append({"path": self.path, "form": form, "headers": dict(self.headers)})
        expected = "Basic " + base64.b64encode(f"{owner.account_sid}:{owner.auth_token}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.path != f"/2010-04-01/Accounts/{owner.account_sid}/Messages.json":
            return self.answer(404, {"code": 20404, "message": "Not found", "status": 404})
        to = form.get("To", "").removeprefix("whatsapp:")
        if to in ERRORS:
            status, code, message = ERRORS[to]
            headers = {"Retry-After": "7"} if status == 429 else None
            return self.answer(
                status,
                {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                headers,
            )
        if not form.get("Body") and not form.get("ContentSid"):
            return self.answer(400, {"code": 21602, "message": "Message body is required.", "status": 400})
        sid = "SM" + uuid.uuid4().hex
        resource = {
            "sid": sid,
            "account_sid": owner.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""),
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{owner.account_sid}/Messages/{sid}.json",
        }
        self.answer(201, resource)


class PushReceiver(LocalServer):
    def __init__(self, secret: str):
        self.secret = secret
        self.requests: list[dict] = []
        super().__init__(_PushHandler)


class _PushHandler(JsonHandler):
    def do_POST(self):
        owner: PushReceiver = self.server.owner
        raw = self.body()
        try:
            verify(owner.secret, raw, self.headers.get("Conveyor-Signature", ""))
        except BadSignature as exc:
            owner.requests.append({"refused": str(exc)})
            return self.answer(401, {"error": str(exc)})
        payload = json.loads(raw)
        owner.requests.append({"payload": payload, "idempotency_key": self.headers.get("Idempotency-Key")})
        if payload["token"] == "gone":
            return self.answer(410, {"error": "unregistered device"})
        if payload["token"] == "busy":
            return self.answer(503, {"error": "try later"}, {"Retry-After": "3"})
        self.answer(200, {"id": f"push-{len(owner.requests)}"})
