"""The notifier's channel stand-ins check what a real receiver checks and misbehave on demand."""

import hashlib
import hmac
import smtplib
from email.message import EmailMessage

import httpx
import pytest

from switchboard_standins.notify import NotifyStandin, SmtpStandin
from switchboard_standins.server import Standin, StandinServer


@pytest.fixture
async def client():
    server = StandinServer(Standin(notify=NotifyStandin(webhook_secret="k", sms_token="t")))
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
        yield client
    await server.stop()


def signed(body: bytes, timestamp="1700000000", secret="k"):
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Switchboard-Timestamp": timestamp,
        "X-Switchboard-Signature": f"sha256={mac}",
        "Idempotency-Key": "key-1",
        "Content-Type": "application/json",
    }


async def test_the_webhook_receiver_verifies_the_signature_and_counts_by_key(client):
    body = b'{"item_id":7}'
    for _ in range(2):
        assert (
            await client.post("/hooks/duty", content=body, headers=signed(body))
        ).status_code == 200
    forged = await client.post("/hooks/duty", content=body, headers=signed(body, secret="wrong"))
    assert forged.status_code == 401
    seen = (await client.get("/_standin/notify/deliveries")).json()
    assert seen["by_key"]["webhook"] == {"key-1": 2}
    assert seen["bad_signatures"] == 1


async def test_pagerduty_answers_202_and_refuses_an_incomplete_event(client):
    event = {
        "routing_key": "rk",
        "event_action": "trigger",
        "dedup_key": "d-1",
        "payload": {"summary": "s", "source": "switchboard", "severity": "critical"},
    }
    answer = await client.post("/v2/enqueue", json=event)
    assert (answer.status_code, answer.json()["dedup_key"]) == (202, "d-1")
    bad = await client.post("/v2/enqueue", json={**event, "payload": {"summary": "s"}})
    assert bad.status_code == 400


async def test_the_sms_gateway_needs_its_token_and_takes_faults(client):
    message = {"to": "+15550100", "text": "escalation", "reference": "r-1"}
    refused = await client.post("/sms/v1/messages", json=message)
    assert refused.status_code == 401
    await client.post("/_standin/notify/faults", json={"kind": "429", "channel": "sms"})
    await client.post("/_standin/notify/faults", json={"kind": "500", "channel": "sms"})
    auth = {"Authorization": "Bearer t"}
    statuses = [
        (await client.post("/sms/v1/messages", json=message, headers=auth)).status_code
        for _ in range(3)
    ]
    assert statuses == [429, 500, 201]
    sent = await client.post("/sms/v1/messages", json=message, headers=auth)
    assert sent.json()["message_id"].startswith("sms-")


async def test_a_hang_accepts_the_message_and_answers_nothing(client):
    await client.post("/_standin/notify/faults", json={"kind": "hang", "seconds": 5})
    message = {"to": "+15550100", "text": "x", "reference": "r-2"}
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            "/sms/v1/messages", json=message, headers={"Authorization": "Bearer t"}, timeout=0.5
        )
    seen = (await client.get("/_standin/notify/deliveries")).json()
    assert seen["by_key"]["sms"] == {"r-2": 1}


def test_the_smtp_server_keeps_what_it_receives():
    smtp = SmtpStandin()
    smtp.start()
    try:
        message = EmailMessage()
        message["From"] = "sb@example.org"
        message["To"] = "duty@example.org"
        message["Subject"] = "escalation"
        message.set_content("open the link")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=5) as client:
            client.send_message(message)
    finally:
        smtp.stop()
    (mail,) = smtp.messages
    assert (mail.recipients, mail.subject) == (("duty@example.org",), "escalation")
