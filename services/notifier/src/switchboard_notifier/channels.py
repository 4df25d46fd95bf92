"""The four channels' clients: the request each makes, and what came back (an `Attempt`).

No mention text goes out: a notification carries ids, queue, urgency, tier,
counts and a link, nothing a citizen wrote. Every request has the timeouts of
the settings; nothing here decides whether to try again (that is `answers`).
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from switchboard_notifier.answers import Attempt
from switchboard_notifier.policy import ChannelKind, Policy
from switchboard_notifier.settings import NotifierSettings
from switchboard_notifier.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from switchboard_notifier.store import Claimed


@dataclass(frozen=True)
class Notification:
    """What one message says: ids, queue, urgency, tier, counts and a link only."""

    key: str  # the send's dedupe key: the idempotency key of channels that have one
    group: str
    item_id: int
    mention_id: str
    incident_id: int | None
    queue_id: str
    urgency: str
    tier: int
    member_count: int
    link: str

    @property
    def summary(self) -> str:
        """One line for a pager, an SMS or a subject."""
        what = (
            f"incident {self.incident_id}"
            if self.incident_id is not None
            else f"item {self.item_id}"
        )
        size = f", {self.member_count} mentions" if self.member_count > 1 else ""
        return (
            f"Switchboard escalation: {what} in {self.queue_id}, {self.urgency}, "
            f"tier {self.tier}{size}"
        )

    def body(self) -> dict[str, Any]:
        """The JSON a webhook carries."""
        return {
            "type": "switchboard.escalation",
            "dedupe_key": self.key,
            "group": self.group,
            "item_id": self.item_id,
            "mention_id": self.mention_id,
            "incident_id": self.incident_id,
            "queue_id": self.queue_id,
            "urgency": self.urgency,
            "tier": self.tier,
            "member_count": self.member_count,
            "link": self.link,
        }


def notification_of(send: Claimed, link_base_url: str) -> Notification:
    """The message a claimed send carries."""
    return Notification(
        key=send.dedupe_key,
        group=send.group_key,
        item_id=send.item_id,
        mention_id=send.mention_id,
        incident_id=send.incident_id,
        queue_id=send.queue_id,
        urgency=send.urgency.value,
        tier=send.tier,
        member_count=send.member_count,
        link=f"{link_base_url.rstrip('/')}/items/{send.item_id}",
    )


class Sender(Protocol):
    """Sends one notification to one address and says what came back."""

    async def send(self, notification: Notification, address: str) -> Attempt: ...

    async def aclose(self) -> None: ...


async def _http(
    client: httpx.AsyncClient, url: str, *, id_field: str | None = None, **kwargs: Any
) -> Attempt:
    """POST once; the attempt carries the answer's `id_field` (a string) as its external id."""
    try:
        response = await client.post(url, **kwargs)
    except httpx.ConnectError as exc:
        return Attempt(None, error=f"connect failed: {type(exc).__name__}", connected=False)
    except httpx.HTTPError as exc:
        # The request may have arrived: the channel's idempotency decides what is safe.
        return Attempt(None, error=f"no answer: {type(exc).__name__}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    error = None if response.is_success else f"HTTP {response.status_code}"
    external_id = answer.get(id_field) if id_field and isinstance(answer, dict) else None
    return Attempt(
        response.status_code,
        error=error,
        external_id=external_id if isinstance(external_id, str) else None,
    )


class _HttpSender:
    """A sender on an HTTP client of its own, closed with it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


class WebhookSender(_HttpSender):
    """Signed JSON POSTs with an Idempotency-Key."""

    def __init__(self, client: httpx.AsyncClient, secret: str) -> None:
        super().__init__(client)
        self.secret = secret

    async def send(self, notification: Notification, address: str) -> Attempt:
        body = json.dumps(notification.body(), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.secret, timestamp, body),
            IDEMPOTENCY_HEADER: notification.key,
        }
        return await _http(self.client, address, content=body, headers=headers)


class PagerDutySender(_HttpSender):
    """PagerDuty Events API v2: `trigger` with the send's dedupe key."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        super().__init__(client)
        self.url = url

    async def send(self, notification: Notification, address: str) -> Attempt:
        event = {
            "routing_key": address,
            "event_action": "trigger",
            "dedup_key": notification.key,
            "payload": {
                "summary": notification.summary,
                "source": "switchboard-notifier",
                "severity": "critical" if notification.urgency == "critical" else "error",
                "custom_details": notification.body(),
            },
            "links": [{"href": notification.link, "text": "Open in Switchboard"}],
        }
        return await _http(self.client, self.url, id_field="dedup_key", json=event)


class SmsSender(_HttpSender):
    """An SMS gateway's JSON API: `{"to", "text", "reference"}` with a bearer token -> `{"message_id"}`."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str) -> None:
        super().__init__(client)
        self.url = url
        self.token = token

    async def send(self, notification: Notification, address: str) -> Attempt:
        message = {
            "to": address,
            "text": f"{notification.summary} {notification.link}",
            "reference": notification.key,
        }
        headers = {"Authorization": f"Bearer {self.token}"}
        return await _http(
            self.client, self.url, id_field="message_id", json=message, headers=headers
        )


class EmailSender:
    """Plain-text email over SMTP (smtplib, in a worker thread)."""

    def __init__(self, host: str, port: int, sender: str, *, timeout: float) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout

    async def send(self, notification: Notification, address: str) -> Attempt:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = notification.summary
        message["Message-ID"] = f"<{_safe(notification.key)}@switchboard-notifier>"
        message.set_content(
            f"{notification.summary}\n\nOpen: {notification.link}\n\n"
            f"Group: {notification.group}\nItem: {notification.item_id}\n"
            f"Mention: {notification.mention_id}\n"
        )
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> Attempt:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                refused = smtp.send_message(message)
        except (ConnectionRefusedError, smtplib.SMTPConnectError) as exc:
            return Attempt(None, error=f"connect failed: {type(exc).__name__}", connected=False)
        except smtplib.SMTPResponseException as exc:
            return Attempt(exc.smtp_code, error=f"SMTP {exc.smtp_code}")
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return Attempt(code, error=f"SMTP {code}: recipient refused")
        except (OSError, smtplib.SMTPException) as exc:
            return Attempt(None, error=f"no answer: {type(exc).__name__}")
        if refused:
            code = next(iter(refused.values()))[0]
            return Attempt(code, error=f"SMTP {code}: recipient refused")
        return Attempt(250)

    async def aclose(self) -> None:
        return None


def _safe(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in key)


def build_senders(settings: NotifierSettings, policy: Policy) -> dict[ChannelKind, Sender]:
    """A sender for every channel the policy configures."""
    timeout = httpx.Timeout(
        settings.notifier_request_timeout_seconds,
        connect=settings.notifier_connect_timeout_seconds,
    )

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    senders: dict[ChannelKind, Sender] = {}
    channels = policy.channels
    if channels.webhook is not None:
        secret = settings.notifier_webhook_secret
        senders[ChannelKind.WEBHOOK] = WebhookSender(
            client(), secret.get_secret_value() if secret is not None else ""
        )
    if channels.pagerduty is not None:
        senders[ChannelKind.PAGERDUTY] = PagerDutySender(client(), channels.pagerduty.url)
    if channels.sms is not None:
        token = settings.notifier_sms_token
        senders[ChannelKind.SMS] = SmsSender(
            client(), channels.sms.url, token.get_secret_value() if token is not None else ""
        )
    if channels.email is not None:
        senders[ChannelKind.EMAIL] = EmailSender(
            channels.email.host,
            channels.email.port,
            channels.email.sender,
            timeout=settings.notifier_request_timeout_seconds,
        )
    return senders
