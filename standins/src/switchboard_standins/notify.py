"""Stand-ins of the notifier's channels, for tests and `make run`:

- webhook receiver: `POST /hooks/{name}` checks `X-Switchboard-Signature` (HMAC-SHA256
  over "<timestamp>.<body>") and counts deliveries by `Idempotency-Key`;
- PagerDuty Events API v2: `POST /v2/enqueue` -> 202 `{"status", "message", "dedup_key"}`,
  one incident per `dedup_key` (a repeat is counted, not a new incident);
- SMS gateway: `POST /sms/v1/messages` with a bearer token -> 201 `{"message_id"}`;
- SMTP: a real SMTP server (aiosmtpd) that keeps every message it receives.

Control (`/_standin/notify/...`): `POST faults` queues a fault (`kind` 429, 500, slow or
hang; optional `channel` webhook, pagerduty or sms; `seconds`, `count`), `DELETE faults`
clears them, `GET deliveries` lists what each channel received (and the SMTP
server's mails, when it runs in the same process).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import socket
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from email import message_from_bytes
from enum import StrEnum
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from switchboard_standins.faults import FaultQueue

DEFAULT_WEBHOOK_SECRET = "standin-webhook-secret"
DEFAULT_SMS_TOKEN = "standin-sms-token"


class NotifyChannel(StrEnum):
    """The HTTP channels stood in for (SMTP has a server of its own)."""

    WEBHOOK = "webhook"
    PAGERDUTY = "pagerduty"
    SMS = "sms"


class NotifyFaultKind(StrEnum):
    """What a queued fault does to the next matching request."""

    RATE_LIMIT = "429"
    SERVER_ERROR = "500"
    SLOW = "slow"  # answer normally after `seconds`
    HANG = "hang"  # accept the message, then answer nothing for `seconds`


@dataclass
class Delivery:
    """One message a channel accepted (a repeat of a key is a delivery too)."""

    channel: NotifyChannel
    key: str
    to: str
    body: dict[str, Any] = field(default_factory=dict)


class NotifyStandin:
    """The channels' state; `mount` adds their routes to an aiohttp app."""

    def __init__(
        self,
        *,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        sms_token: str = DEFAULT_SMS_TOKEN,
        smtp: SmtpStandin | None = None,
    ) -> None:
        self.smtp = smtp
        self.webhook_secret = webhook_secret
        self.sms_token = sms_token
        self.deliveries: list[Delivery] = []
        self.faults = FaultQueue(NotifyFaultKind, NotifyChannel, target_key="channel")
        self.requests: Counter[str] = Counter()
        self.bad_signatures = 0
        self._sms_ids = itertools.count(1)

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{name}", self.webhook)
        app.router.add_post("/v2/enqueue", self.pagerduty)
        app.router.add_post("/sms/v1/messages", self.sms)
        app.router.add_post("/_standin/notify/faults", self.faults.add)
        app.router.add_delete("/_standin/notify/faults", self.faults.clear)
        app.router.add_get("/_standin/notify/deliveries", self.list_deliveries)

    # --- control ---------------------------------------------------------------------------

    async def list_deliveries(self, _request: web.Request) -> web.Response:
        by_key: dict[str, Counter[str]] = {}
        for delivery in self.deliveries:
            by_key.setdefault(delivery.channel.value, Counter())[delivery.key] += 1
        return web.json_response(
            {
                "deliveries": [asdict(d) for d in self.deliveries],
                "by_key": {channel: dict(keys) for channel, keys in by_key.items()},
                "requests": dict(self.requests),
                "bad_signatures": self.bad_signatures,
                "mails": [asdict(m) for m in self.smtp.messages] if self.smtp else [],
            }
        )

    # --- shared ----------------------------------------------------------------------------

    async def _answer(
        self, channel: NotifyChannel, accept: Any, refuse: web.Response | None
    ) -> web.Response:
        """Faults first, then `refuse` (a bad signature or token), then `accept()`."""
        self.requests[channel.value] += 1
        fault = self.faults.take(channel)
        kind = fault.kind if fault is not None else None
        if kind is NotifyFaultKind.SLOW:
            await asyncio.sleep(fault.seconds if fault else 0.0)
        if kind is NotifyFaultKind.RATE_LIMIT:
            return web.json_response({"error": "Too Many Requests"}, status=429)
        if kind is NotifyFaultKind.SERVER_ERROR:
            return web.json_response({"error": "Internal Server Error"}, status=500)
        if refuse is not None:
            return refuse
        response: web.Response = accept()
        if kind is NotifyFaultKind.HANG:
            await asyncio.sleep((fault.seconds if fault else 0.0) or 300.0)
        return response

    # --- the channels ----------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        timestamp = request.headers.get("X-Switchboard-Timestamp", "")
        given = request.headers.get("X-Switchboard-Signature", "")
        mac = hmac.new(
            self.webhook_secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
        )
        refuse = None
        if not timestamp or not hmac.compare_digest(f"sha256={mac.hexdigest()}", given):
            self.bad_signatures += 1
            refuse = web.json_response({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key", "")

        def accept() -> web.Response:
            body = _json(raw)
            self.deliveries.append(
                Delivery(NotifyChannel.WEBHOOK, key, request.match_info["name"], body)
            )
            return web.json_response({"received": True}, status=200)

        return await self._answer(NotifyChannel.WEBHOOK, accept, refuse)

    async def pagerduty(self, request: web.Request) -> web.Response:
        body = _json(await request.read())
        payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
        refuse = None
        if (
            not body.get("routing_key")
            or body.get("event_action") != "trigger"
            or not payload
            or not all(payload.get(k) for k in ("summary", "source", "severity"))
        ):
            refuse = web.json_response(
                {"status": "invalid event", "message": "Event object is invalid"}, status=400
            )
        key = str(body.get("dedup_key") or "")

        def accept() -> web.Response:
            self.deliveries.append(
                Delivery(NotifyChannel.PAGERDUTY, key, str(body["routing_key"]), body)
            )
            return web.json_response(
                {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
            )

        return await self._answer(NotifyChannel.PAGERDUTY, accept, refuse)

    async def sms(self, request: web.Request) -> web.Response:
        body = _json(await request.read())
        refuse = None
        if request.headers.get("Authorization") != f"Bearer {self.sms_token}":
            refuse = web.json_response({"error": "unauthorized"}, status=401)
        elif not body.get("to") or not body.get("text"):
            refuse = web.json_response({"error": "to and text are required"}, status=400)

        def accept() -> web.Response:
            key = str(body.get("reference") or "")
            self.deliveries.append(Delivery(NotifyChannel.SMS, key, str(body["to"]), body))
            return web.json_response({"message_id": f"sms-{next(self._sms_ids)}"}, status=201)

        return await self._answer(NotifyChannel.SMS, accept, refuse)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP stand-in accepted."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    body: str


class _MailBox:
    """aiosmtpd handler: keeps every message (its server runs in a thread of its own)."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content)
        payload = parsed.get_payload(decode=True)
        mail = ReceivedMail(
            sender=str(envelope.mail_from),
            recipients=tuple(envelope.rcpt_tos),
            subject=str(parsed.get("Subject", "")),
            message_id=str(parsed.get("Message-ID", "")),
            body=payload.decode(errors="replace") if isinstance(payload, bytes) else "",
        )
        with self.lock:
            self.messages.append(mail)
        return "250 Message accepted for delivery"


class SmtpStandin:
    """A real SMTP server on host:port (0: a free one) that keeps what it receives."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._box = _MailBox()
        self._controller = Controller(self._box, hostname=host, port=self.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._box.lock:
            return list(self._box.messages)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
