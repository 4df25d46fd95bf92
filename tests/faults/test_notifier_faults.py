"""Fault drill of the notifier: SIGKILLed while notifying under load, restarted, no page
sent twice and none lost.

Escalations of distinct items go onto mentions.escalated.v1, each paging one target on
webhook, PagerDuty and SMS, while the stand-in (a process of its own) answers every
request slowly, so many tries are in flight when the notifier process is SIGKILLed; it
is restarted (and, in the full drill, killed and restarted again). Then every send must
be final in the notifier's tables, and on the stand-in:

- webhook and PagerDuty (receivers that dedupe by key): every send's key arrived (a try
  cut off by the kill is made again with the same key; the repeat is the receiver's
  to drop and is counted as `resent_and_deduplicated`), and no other key did;
- SMS (no idempotency): no key arrived twice; a send cut off mid-try ends `unknown`,
  never sent again, and is the only kind allowed to be missing.

Each run is recorded in .run/faults/results.jsonl beside the other drills.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine, text

from switchboard_shared.events import MentionEscalated, Urgency
from switchboard_shared.topics import ESCALATED
from tests.faults.sending_drill import SendingDrill, drill_cases

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.e2e]

RECOVERY_BOUND_SECONDS = 120
SLOW_ANSWER_SECONDS = 0.5
CHANNELS = ("webhook", "pagerduty", "sms")
FINAL = ("delivered", "failed", "unknown")

POLICY = """
version: drill
channels:
  webhook: {{}}
  pagerduty: {{url: "{url}/v2/enqueue"}}
  sms: {{url: "{url}/sms/v1/messages"}}
targets:
  duty-inspector: {{webhook: "{url}/hooks/duty", pagerduty: rk-drill, sms: "+15550100"}}
rules:
  - name: duty
    match: {{notify: duty-inspector}}
    steps:
      - {{after_seconds: 0, targets: [duty-inspector], channels: [webhook, pagerduty, sms]}}
"""


@drill_cases("notifier_sigkill_mid_send", full=150, quick=60)
def test_a_notifier_killed_while_notifying_pages_nobody_twice_and_loses_nothing(
    name, load, kills, kafka_bootstrap, database_url, tmp_path
):
    escalations = load
    engine = create_engine(database_url)

    def states() -> dict[str, int]:
        with engine.connect() as connection:
            try:
                rows = connection.execute(
                    text("SELECT state, count(*) FROM notifier_sends GROUP BY state")
                ).all()
            except Exception:  # the table is created by the notifier's first start
                return {}
        return {state: count for state, count in rows}

    batch = [
        MentionEscalated(
            mention_id=str(uuid.uuid4()),
            item_id=n + 1,
            queue_id="patrol",
            urgency=Urgency.CRITICAL,
            tier=1,
            breach="claim",
            breached_at=datetime.now(UTC),
            notify="duty-inspector",
        )
        for n in range(escalations)
    ]
    sends = escalations * len(CHANNELS)
    try:
        with SendingDrill(name, kills=kills, tmp_path=tmp_path) as drill:
            standin = drill.standin
            # Every answer is slow: many tries are in flight at any moment.
            for channel in CHANNELS:
                httpx.post(
                    f"{standin.url}/_standin/notify/faults",
                    json={
                        "kind": "slow",
                        "channel": channel,
                        "seconds": SLOW_ANSWER_SECONDS,
                        "count": 10**6,
                    },
                    timeout=5,
                ).raise_for_status()
            policy = tmp_path / "notification.yaml"
            policy.write_text(POLICY.format(url=standin.url))
            notifier = drill.service(
                "switchboard_notifier",
                kafka_bootstrap=kafka_bootstrap,
                database_url=database_url,
                env={
                    "SWITCHBOARD_NOTIFIER_POLICY_PATH": str(policy),
                    "SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET": "standin-webhook-secret",
                    "SWITCHBOARD_NOTIFIER_SMS_TOKEN": "standin-sms-token",
                    "SWITCHBOARD_NOTIFIER_REQUEST_TIMEOUT_SECONDS": "2",
                    "SWITCHBOARD_NOTIFIER_CONNECT_TIMEOUT_SECONDS": "1",
                    "SWITCHBOARD_NOTIFIER_CLAIM_LEASE_SECONDS": "4",
                    "SWITCHBOARD_NOTIFIER_RETRY_BACKOFF_SECONDS": "0.2",
                    "SWITCHBOARD_NOTIFIER_SCHEDULER_INTERVAL_SECONDS": "0.1",
                    "SWITCHBOARD_NOTIFIER_CLAIM_BATCH": "30",
                },
            )
            recovered = drill.run(
                notifier,
                kafka_bootstrap=kafka_bootstrap,
                topic=ESCALATED.name(drill.prefix),
                load=batch,
                tries=sends,
                received=lambda: sum(
                    standin.get("/_standin/notify/deliveries")["requests"].values()
                ),
                in_flight=lambda _received: states().get("sending", 0),
                all_final=lambda: sum(states().get(s, 0) for s in FINAL) >= sends,
                bound_seconds=RECOVERY_BOUND_SECONDS,
                interval=1,
            )
            final_states = states()
            seen = standin.get("/_standin/notify/deliveries")
        # Read once the notifier is stopped: nothing changes them any more.
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT channel, dedupe_key, state FROM notifier_sends")
            ).all()
    finally:
        engine.dispose()
    by_key = {channel: Counter(seen["by_key"].get(channel, {})) for channel in CHANNELS}
    keys = {channel: {key for ch, key, _ in rows if ch == channel} for channel in CHANNELS}
    unknown_sms = {key for ch, key, state in rows if ch == "sms" and state == "unknown"}
    result = drill.record(
        recovered,
        escalations=escalations,
        sends=sends,
        states=final_states,
        stored_sends=len(rows),
        paged={channel: len(by_key[channel]) for channel in CHANNELS},
        resent_and_deduplicated=sum(
            count - 1 for channel in ("webhook", "pagerduty") for count in by_key[channel].values()
        ),
        sms_twice=sum(1 for count in by_key["sms"].values() if count > 1),
        lost=sum(len(keys[c] - set(by_key[c])) for c in ("webhook", "pagerduty"))
        + len(keys["sms"] - set(by_key["sms"]) - unknown_sms),
        bad_signatures=seen["bad_signatures"],
    )
    assert result["stored_sends"] == sends, result
    assert recovered.all_final, result
    assert result["sms_twice"] == 0, result
    assert result["lost"] == 0, result
    for channel in CHANNELS:
        assert set(by_key[channel]) <= keys[channel], result  # no page nobody asked for
    assert result["bad_signatures"] == 0, result
    assert any(recovered.in_flight_at_kills), f"no send was in flight at any kill: {result}"
