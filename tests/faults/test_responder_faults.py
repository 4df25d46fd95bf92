"""Fault drill of the responder: SIGKILLed mid-send under load, restarted, nothing posted
twice and nothing lost.

A few hundred reply requests for Mastodon go onto replies.v1 while the stand-in
(a process of its own) answers every one slowly, so many sends are in flight when
the responder process is SIGKILLed; it is restarted (and, in the full drill, killed
and restarted again). Then every request must end with a final outcome (sent,
failed_* or unknown, each with its reason) and the stand-in must hold at most one
post per reply. Each run is recorded in .run/faults/results.jsonl beside the
pipeline's drills; `make test-faults` runs the drill SWITCHBOARD_FAULT_RUNS times,
`make test` the quick one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest

from conftest import Standin, TopicReader, free_port, poll, run_async
from switchboard_shared.events import ReplyOutcome, ReplyRequested, Source
from switchboard_shared.topics import REPLIES, REPLY_OUTCOMES
from tests.faults.sending_drill import Restarted, drill_cases, publish, record

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

RECOVERY_BOUND_SECONDS = 180
SLOW_ANSWER_SECONDS = 1.0


def final_outcomes(bootstrap: str, topic: str) -> dict[str, list[ReplyOutcome]]:
    records = run_async(TopicReader(bootstrap).read_quiet(topic, settle=2))
    by_reply: dict[str, list[ReplyOutcome]] = {}
    for r in records:
        outcome = ReplyOutcome.model_validate_json(r.value)
        if outcome.status.final:
            by_reply.setdefault(outcome.reply_id, []).append(outcome)
    return by_reply


def run_drill(name, *, requests: int, kills: int, kafka_bootstrap, database_url, tmp_path):
    prefix = f"fault-{uuid.uuid4().hex[:8]}."
    standin = Standin(tmp_path / "standin.log")
    # Every Mastodon answer is slow: many sends are in flight at any moment.
    standin.fault(kind="slow", platform="mastodon", seconds=SLOW_ANSWER_SECONDS, count=10**6)
    port = free_port()
    channels = {
        "mastodon": {"base_url": standin.url, "token": "standin-mastodon-token", "max_chars": 500}
    }
    env = {
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": prefix,
        "SWITCHBOARD_RESPONDER_GROUP_ID": f"{prefix}responder",
        "SWITCHBOARD_RESPONDER_PORT": str(port),
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_RESPONDER_CHANNELS": json.dumps(channels),
        "SWITCHBOARD_RESPONDER_MAX_IN_FLIGHT": "25",
        "SWITCHBOARD_RESPONDER_REQUEST_TIMEOUT_SECONDS": "5",
        "SWITCHBOARD_RESPONDER_RETRY_BACKOFF_SECONDS": "0.2",
        "SWITCHBOARD_KAFKA_ACK_TIMEOUT_SECONDS": "2",
        "SWITCHBOARD_LOG_LEVEL": "INFO",
    }
    responder = Restarted("switchboard_responder", env, port, tmp_path)

    batch = [
        ReplyRequested(
            reply_id=f"drill-{prefix}{n}",
            mention_id=str(uuid.uuid4()),
            item_id=n + 1,
            source=Source.MASTODON,
            in_reply_to=str(109_000_000 + n),
            text=f"Officers are on their way, reference {prefix}{n}.",
        )
        for n in range(requests)
    ]
    try:
        responder.start()
        run_async(publish(kafka_bootstrap, REPLIES.name(prefix), batch))
        in_flight_at_kills = responder.kill_while_sending(
            kills=kills,
            tries=requests,
            received=lambda: standin.get("/_standin/requests")["mastodon"],
            # Received but not posted: the sends still in flight.
            in_flight=lambda received: received - len(standin.get("/_standin/posts")["posts"]),
        )
        started = time.monotonic()
        outcomes_topic = REPLY_OUTCOMES.name(prefix)
        done = poll(
            lambda: len(final_outcomes(kafka_bootstrap, outcomes_topic)) >= requests,
            timeout=RECOVERY_BOUND_SECONDS,
            interval=2,
        )
        recovery = round(time.monotonic() - started, 1)
        by_reply = final_outcomes(kafka_bootstrap, outcomes_topic)
        posts = standin.get("/_standin/posts")["posts"]
        deduplicated = standin.get("/_standin/requests")["mastodon_deduplicated"]
    finally:
        responder.stop()
        standin.stop()
    # Counted by text (unique per request), not by key: a resend under another key counts.
    reply_of_text = {r.text: r.reply_id for r in batch}
    posted = Counter(reply_of_text.get(p["text"], p["text"]) for p in posts)
    wanted = {r.reply_id for r in batch}
    last_status = {reply: outs[-1].status.value for reply, outs in by_reply.items()}
    without_reason = [
        reply
        for reply, outs in by_reply.items()
        if outs[-1].status.value != "sent" and not outs[-1].error
    ]
    result = {
        "fault": name,
        "prefix": prefix,
        "requests": requests,
        "kills": kills,
        "in_flight_at_kills": in_flight_at_kills,
        "finished": len(wanted & set(by_reply)),
        "lost": len(wanted - set(by_reply)),
        "posted": len(posted),
        "posted_twice": sum(1 for count in posted.values() if count > 1),
        # Resends the instance answered from its Idempotency-Key store (crash recovery at work).
        "resent_and_deduplicated": deduplicated,
        "statuses": dict(Counter(last_status.values())),
        "without_reason": without_reason[:5],
        "recovery_seconds": recovery,
        "all_final_within_bound": bool(done),
    }
    record(result)
    assert result["posted_twice"] == 0, result
    assert result["lost"] == 0, result
    assert result["without_reason"] == [], result
    assert set(posted) <= wanted, result
    # Sent means posted: every sent outcome's post is on the stand-in.
    sent = {reply for reply, status in last_status.items() if status == "sent"}
    assert sent <= set(posted), result
    assert any(in_flight_at_kills), f"no send was in flight at any kill: {result}"
    return result


@pytest.mark.parametrize(
    ("name", "requests", "kills"),
    drill_cases("responder_sigkill_mid_send", full=300, quick=100),
)
def test_a_responder_killed_mid_send_posts_nothing_twice_and_loses_nothing(
    name, requests, kills, kafka_bootstrap, database_url, tmp_path
):
    run_drill(
        name,
        requests=requests,
        kills=kills,
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        tmp_path=tmp_path,
    )
