"""The channels' requests have the real shapes, carry no mention text, and sign what they send."""

import json

import httpx

from switchboard_notifier.channels import Notification, PagerDutySender, SmsSender, WebhookSender
from switchboard_notifier.signing import verify

NOTE = Notification(
    key="incident:4|critical@10|duty|webhook|r0s0",
    group="incident:4",
    item_id=7,
    mention_id="m-1",
    incident_id=4,
    queue_id="patrol",
    urgency="critical",
    tier=2,
    member_count=12,
    link="http://console.example/items/7",
)


def client_seeing(requests, status=200, answer=None):
    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(status, json=answer or {})

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_a_webhook_is_signed_over_timestamp_and_body_with_its_idempotency_key():
    seen = []
    attempt = await WebhookSender(client_seeing(seen), "k").send(NOTE, "http://hooks.example/duty")
    assert attempt.status == 200
    (request,) = seen
    assert request.headers["Idempotency-Key"] == NOTE.key
    timestamp = request.headers["X-Switchboard-Timestamp"]
    assert verify("k", timestamp, request.content, request.headers["X-Switchboard-Signature"])
    body = json.loads(request.content)
    assert body["member_count"] == 12 and body["link"] == NOTE.link
    assert "text" not in body


async def test_pagerduty_gets_an_events_v2_trigger_with_the_dedup_key():
    seen = []
    sender = PagerDutySender(
        client_seeing(seen, 202, {"dedup_key": NOTE.key}), "http://pd.example/v2/enqueue"
    )
    attempt = await sender.send(NOTE, "rk-1")
    assert (attempt.status, attempt.external_id) == (202, NOTE.key)
    event = json.loads(seen[0].content)
    assert (event["routing_key"], event["event_action"], event["dedup_key"]) == (
        "rk-1",
        "trigger",
        NOTE.key,
    )
    assert set(event["payload"]) >= {"summary", "source", "severity"}
    assert event["payload"]["severity"] == "critical"


async def test_an_sms_is_a_bearer_json_post_answered_with_a_message_id():
    seen = []
    sender = SmsSender(
        client_seeing(seen, 201, {"message_id": "sms-9"}), "http://sms.example/messages", "t"
    )
    attempt = await sender.send(NOTE, "+15550100")
    assert (attempt.status, attempt.external_id) == (201, "sms-9")
    assert seen[0].headers["Authorization"] == "Bearer t"
    message = json.loads(seen[0].content)
    assert message["to"] == "+15550100" and NOTE.link in message["text"]


async def test_a_timeout_is_no_answer_and_a_refused_connection_is_not_connected():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx.ConnectError("refused", request=request)

    lost = await WebhookSender(httpx.AsyncClient(transport=httpx.MockTransport(timeout)), "k").send(
        NOTE, "http://hooks.example"
    )
    assert (lost.status, lost.connected) == (None, True)
    never = await WebhookSender(
        httpx.AsyncClient(transport=httpx.MockTransport(refused)), "k"
    ).send(NOTE, "http://hooks.example")
    assert (never.status, never.connected) == (None, False)
