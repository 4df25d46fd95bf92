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
import uuid
from collections import Counter

import pytest

from conftest import TopicReader, run_async
from switchboard_shared.events import ReplyOutcome, ReplyRequested, Source
from switchboard_shared.topics import REPLIES, REPLY_OUTCOMES
from tests.faults.sending_drill import SendingDrill, drill_cases

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


@drill_cases("responder_sigkill_mid_send", full=300, quick=100)
def test_a_responder_killed_mid_send_posts_nothing_twice_and_loses_nothing(
    name, load, kills, kafka_bootstrap, database_url, tmp_path
):
    requests = load
    with SendingDrill(name, kills=kills, tmp_path=tmp_path) as drill:
        standin, prefix = drill.standin, drill.prefix
        # Every Mastodon answer is slow: many sends are in flight at any moment.
        standin.fault(kind="slow", platform="mastodon", seconds=SLOW_ANSWER_SECONDS, count=10**6)
        channels = {
            "mastodon": {
                "base_url": standin.url,
                "token": "standin-mastodon-token",
                "max_chars": 500,
            }
        }
        responder = drill.service(
            "switchboard_responder",
            kafka_bootstrap=kafka_bootstrap,
            database_url=database_url,
            env={
                "SWITCHBOARD_RESPONDER_CHANNELS": json.dumps(channels),
                "SWITCHBOARD_RESPONDER_MAX_IN_FLIGHT": "25",
                "SWITCHBOARD_RESPONDER_REQUEST_TIMEOUT_SECONDS": "5",
                "SWITCHBOARD_RESPONDER_RETRY_BACKOFF_SECONDS": "0.2",
            },
        )
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
        outcomes_topic = REPLY_OUTCOMES.name(prefix)
        recovered = drill.run(
            responder,
            kafka_bootstrap=kafka_bootstrap,
            topic=REPLIES.name(prefix),
            load=batch,
            tries=requests,
            received=lambda: standin.get("/_standin/requests")["mastodon"],
            # Received but not posted: the sends still in flight.
            in_flight=lambda received: received - len(standin.get("/_standin/posts")["posts"]),
            all_final=lambda: len(final_outcomes(kafka_bootstrap, outcomes_topic)) >= requests,
            bound_seconds=RECOVERY_BOUND_SECONDS,
            interval=2,
        )
        by_reply = final_outcomes(kafka_bootstrap, outcomes_topic)
        posts = standin.get("/_standin/posts")["posts"]
        deduplicated = standin.get("/_standin/requests")["mastodon_deduplicated"]
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
    result = drill.record(
        recovered,
        requests=requests,
        finished=len(wanted & set(by_reply)),
        lost=len(wanted - set(by_reply)),
        posted=len(posted),
        posted_twice=sum(1 for count in posted.values() if count > 1),
        # Resends the instance answered from its Idempotency-Key store (crash recovery at work).
        resent_and_deduplicated=deduplicated,
        statuses=dict(Counter(last_status.values())),
        without_reason=without_reason[:5],
    )
    assert result["posted_twice"] == 0, result
    assert result["lost"] == 0, result
    assert result["without_reason"] == [], result
    assert set(posted) <= wanted, result
    # Sent means posted: every sent outcome's post is on the stand-in.
    sent = {reply for reply, status in last_status.items() if status == "sent"}
    assert sent <= set(posted), result
    assert any(recovered.in_flight_at_kills), f"no send was in flight at any kill: {result}"
