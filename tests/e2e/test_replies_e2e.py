"""Answering citizens end to end: ingest, classifier, router and responder as processes on
the real Kafka and PostgreSQL, the platforms played by the stand-in (a process too).

A question posted to ingest becomes an item; its officer writes a reply, which its
author may not approve; a supervisor approves it; the officer's edit takes it back
for approval; approved again, it is handed to the responder after the hold, meets a
429 from X, is sent at the reset time and comes back `sent` with the platform's
post id. A second reply meets an X that takes the post and never answers: it ends
`unknown` and is not sent again. A third goes to Mastodon. The response-time report
then has the first answers.
"""

import json
import time
from datetime import datetime

import httpx
import pytest

from conftest import Standin, find_item, poll

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

API_KEY = "replies-e2e-key"
ADMIN_TOKEN = "replies-e2e-admin"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
# Where the shipped policy puts questions and everything else.
QUEUES = ("community-engagement", "general")
REQUEST_TIMEOUT = 3


def add_person(router: str, name: str, role: str) -> tuple[str, dict[str, str]]:
    made = httpx.post(f"{router}/v1/officers", json={"name": name, "role": role}, headers=ADMIN)
    assert made.status_code == 201, made.text
    officer_id = made.json()["officer_id"]
    for queue in QUEUES:
        httpx.post(f"{router}/v1/queues", json={"queue_id": queue}, headers=ADMIN)
        joined = httpx.post(
            f"{router}/v1/queues/{queue}/members", json={"officer_id": officer_id}, headers=ADMIN
        )
        assert joined.status_code == 201, joined.text
    token = httpx.post(f"{router}/v1/officers/{officer_id}/tokens", headers=ADMIN).json()["token"]
    return officer_id, {"authorization": f"Bearer {token}"}


def ask(ingest: str, source: str, source_id: str, text: str) -> str:
    answer = httpx.post(
        f"{ingest}/v1/mentions",
        json={
            "source": source,
            "source_id": source_id,
            "text": text,
            "created_at": "2026-12-03T06:00:00Z",
        },
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["mention_id"])


def replies_of(router: str, item_id: int, headers: dict[str, str]) -> list[dict]:
    answer = httpx.get(f"{router}/v1/items/{item_id}/replies", headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["replies"])


def wait_status(router, item_id, headers, wanted, timeout=60.0) -> dict:
    reply = poll(
        lambda: next(
            (r for r in replies_of(router, item_id, headers) if r["status"] in wanted), None
        ),
        timeout=timeout,
    )
    assert reply, (wanted, replies_of(router, item_id, headers))
    return dict(reply)


def test_a_reply_goes_from_draft_to_sent_through_a_429_and_a_timeout_is_never_resent(
    start_services,
    service_runner,
    port_factory,
    kafka_bootstrap,
    topic_prefix,
    database_url,
    tmp_path,
):
    urls, processes = start_services(api_key=API_KEY, admin_token=ADMIN_TOKEN)
    router, ingest = urls["router"], urls["ingest"]
    standin = Standin(tmp_path / "standin.log")
    port = port_factory()
    channels = {
        "x": {"base_url": standin.url, "token": "standin-x-token"},
        "mastodon": {"base_url": standin.url, "token": "standin-mastodon-token", "max_chars": 500},
    }
    responder = service_runner(
        "switchboard_responder",
        {
            "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
            "SWITCHBOARD_RESPONDER_GROUP_ID": f"{topic_prefix}responder",
            "SWITCHBOARD_RESPONDER_PORT": str(port),
            "SWITCHBOARD_DATABASE_URL": database_url,
            "SWITCHBOARD_RESPONDER_CHANNELS": json.dumps(channels),
            "SWITCHBOARD_RESPONDER_REQUEST_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
            "SWITCHBOARD_RESPONDER_RETRY_BACKOFF_SECONDS": "0.2",
        },
    )
    responder.wait_ready(f"http://127.0.0.1:{port}/readyz")
    try:
        author_id, author = add_person(router, "Dana Reyes", "officer")
        approver_id, approver = add_person(router, "Insp. Sam Okafor", "supervisor")
        asked = {
            "a": ask(
                ingest,
                "x",
                "1700000000000000001",
                "Is the bridge on 3rd Street still closed tonight?",
            ),
            "b": ask(ingest, "x", "1700000000000000002", "How do I get a copy of a police report?"),
            "c": ask(
                ingest,
                "mastodon",
                "111000000000000003",
                "Is the DMV on 2nd street open on Saturdays?",
            ),
        }
        items = {}
        for key, mention_id in asked.items():
            token = author["authorization"][7:]
            item = find_item(router, QUEUES[0], mention_id, token=token, timeout=30) or find_item(
                router, QUEUES[1], mention_id, token=token, timeout=5
            )
            assert item, processes["router"].log_tail()
            items[key] = item["item_id"]

        # A: written, refused to its own author, approved, edited (back for approval), approved.
        made = httpx.post(
            f"{router}/v1/items/{items['a']}/replies",
            json={"text": "It reopens at 6 am."},
            headers=author,
        ).json()
        reply_a = made["reply_id"]
        assert made["status"] == "pending_approval"
        own = httpx.post(f"{router}/v1/replies/{reply_a}/approve", headers=author)
        assert own.status_code == 403, own.text
        approved = httpx.post(f"{router}/v1/replies/{reply_a}/approve", headers=approver).json()
        assert (approved["status"], approved["approver"]) == ("approved", approver_id)
        edited = httpx.patch(
            f"{router}/v1/replies/{reply_a}",
            json={"text": "It reopens at 6 am; use the 5th Street bridge until then."},
            headers=author,
        ).json()
        assert (edited["status"], edited["approver"]) == ("pending_approval", None)
        # X answers the next request with 429, its window resetting three seconds later.
        standin.fault(kind="429", platform="x", seconds=3)
        httpx.post(f"{router}/v1/replies/{reply_a}/approve", headers=approver).raise_for_status()
        sent = wait_status(router, items["a"], author, {"sent"})
        assert sent["author"] == author_id and sent["attempts"] == 1
        posts = [
            p
            for p in standin.get("/_standin/posts")["posts"]
            if p["in_reply_to"] == "1700000000000000001"
        ]
        assert [p["id"] for p in posts] == [sent["platform_post_id"]]  # posted once
        assert posts[0]["text"] == "It reopens at 6 am; use the 5th Street bridge until then."
        assert standin.get("/_standin/requests")["x"] == 2  # the 429, then the post
        waited = datetime.fromisoformat(sent["sent_at"]) - datetime.fromisoformat(
            sent["dispatched_at"]
        )
        assert waited.total_seconds() >= 2, waited  # sent at the reset, not at once

        # B: X takes the post and never answers; C: Mastodon, untouched by X's trouble.
        standin.fault(kind="hang", platform="x", seconds=60)
        for key, text in (("b", "You can request it online."), ("c", "Yes, 9 am to 1 pm.")):
            made = httpx.post(
                f"{router}/v1/items/{items[key]}/replies", json={"text": text}, headers=author
            ).json()
            httpx.post(
                f"{router}/v1/replies/{made['reply_id']}/approve", headers=approver
            ).raise_for_status()
        unknown = wait_status(router, items["b"], author, {"unknown", "sent", "failed_retryable"})
        assert unknown["status"] == "unknown", unknown
        sent_c = wait_status(router, items["c"], author, {"sent"})
        assert sent_c["platform_post_id"]
        time.sleep(REQUEST_TIMEOUT * 2)  # time enough for a wrongful resend to show
        assert replies_of(router, items["b"], author)[0]["status"] == "unknown"
        assert standin.get("/_standin/requests")["x"] == 3  # B was sent once, never again
        # A person looks, finds the post exists, and cancels instead of retrying.
        cancelled = httpx.post(f"{router}/v1/replies/{unknown['reply_id']}/cancel", headers=author)
        assert cancelled.json()["status"] == "cancelled"

        report = httpx.get(
            f"{router}/v1/reports/response-times",
            headers=approver,
        ).json()
        answered = sum(g["answered"] for g in report["groups"])
        first = sum(g["first_response"]["count"] for g in report["groups"])
        assert (answered, first) == (2, 2), report
    finally:
        standin.stop()
