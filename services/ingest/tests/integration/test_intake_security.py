"""HTTP intake's defences on the real broker (issue 11): rate limits per key,
duplicates namespaced by the submitting agency, no start without keys."""

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from conftest import REPO, run_async, run_to_refusal, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_ingest.auth import KeyFileError
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionReceived
from switchboard_shared.identity import mention_id_for
from switchboard_shared.topics import RAW

pytestmark = pytest.mark.kafka

KEY_A, KEY_B, KEY_A2 = "key-of-agency-a", "key-of-agency-b", "rotated-key-of-agency-a"


def mention(source: str, source_id: str, text: str) -> dict:
    return {
        "source": source,
        "source_id": source_id,
        "text": text,
        "created_at": "2026-11-29T22:00:00+00:00",
    }


def keys_file(tmp_path, entries: list[dict]):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(entries))
    return path


def entry(name: str, key: str, sources: list[str], **extra: str) -> dict:
    return {
        "name": name,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
        "sources": sources,
        **extra,
    }


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def keys(tmp_path):
    return keys_file(
        tmp_path,
        [
            entry("agency-a", KEY_A, ["*"]),
            # A second key of agency A (a rotation): same agency, so same duplicates.
            entry("agency-a-next", KEY_A2, ["*"], agency="agency-a"),
            entry("agency-b", KEY_B, ["*"]),
        ],
    )


def keyed_settings(kafka_bootstrap, topic_prefix, keys, **more) -> IngestSettings:
    """Intake on the test broker, taking the two agencies' keys (and `more` settings)."""
    return IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        ingest_api_keys_file=keys,
        **more,
    )


def rate_limited(client: TestClient, door: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'switchboard_ingest_rate_limited_total{{door="{door}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no rate_limited series for door {door}")


# --- finding 6: rate limits per key ----------------------------------------


def test_rapid_posts_on_one_key_meet_429_with_retry_after_and_another_key_is_unaffected(
    kafka_bootstrap, topic_prefix, keys, topic_reader
):
    settings = keyed_settings(
        kafka_bootstrap,
        topic_prefix,
        keys,
        ingest_key_rate_per_second=0.1,
        ingest_key_burst=20,
        ingest_batch_max_items=20,
    )
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        before = rate_limited(client, "api")
        statuses = []
        for n in range(60):
            response = client.post(
                "/v1/mentions", json=mention("app", f"flood-{n}", "Flood"), headers=auth(KEY_A)
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused = response
        assert statuses.count(202) >= 20
        assert statuses.count(429) >= 30, statuses
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["status"] == 429
        assert "agency-a" in refused.json()["detail"] and KEY_A not in refused.text
        assert rate_limited(client, "api") == before + statuses.count(429)

        # Key B has its own allowance, and a batch costs its items.
        ok = client.post(
            "/v1/mentions/batch",
            json={"mentions": [mention("app", f"b-{n}", "Fine") for n in range(15)]},
            headers=auth(KEY_B),
        )
        assert ok.status_code == 202, ok.text
        batch_before = rate_limited(client, "api_batch")
        over = client.post(
            "/v1/mentions/batch",
            json={"mentions": [mention("app", f"b2-{n}", "Too many") for n in range(15)]},
            headers=auth(KEY_B),
        )
        assert over.status_code == 429
        assert int(over.headers["retry-after"]) >= 1
        assert rate_limited(client, "api_batch") == batch_before + 1
    accepted = run_async(topic_reader.read_quiet(RAW.name(topic_prefix), settle=1.5))
    assert len(accepted) == statuses.count(202) + 15  # nothing refused reached Kafka


# --- finding 15: one key cannot make another's report a duplicate ----------


def test_a_key_posting_a_source_id_first_does_not_make_another_agencys_report_a_duplicate(
    kafka_bootstrap, topic_prefix, keys, topic_reader
):
    settings = keyed_settings(kafka_bootstrap, topic_prefix, keys)
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        # The attack: agency B posts app/case-42 before agency A's real report.
        squat = client.post(
            "/v1/mentions", json=mention("app", "case-42", "nothing to see"), headers=auth(KEY_B)
        )
        assert squat.status_code == 202
        real = client.post(
            "/v1/mentions",
            json=mention("app", "case-42", "Man with a knife outside the school on Oak Ave"),
            headers=auth(KEY_A),
        )
        assert real.status_code == 202, real.text
        assert real.json()["status"] == "accepted"
        assert real.json()["mention_id"] != squat.json()["mention_id"]
        # The same agency re-posting (with either of its keys) is still a duplicate.
        for key in (KEY_A, KEY_A2):
            again = client.post(
                "/v1/mentions",
                json=mention("app", "case-42", "Man with a knife outside the school on Oak Ave"),
                headers=auth(key),
            )
            assert (again.status_code, again.json()["status"]) == (200, "duplicate")
            assert again.json()["mention_id"] == real.json()["mention_id"]
        batch = client.post(
            "/v1/mentions/batch",
            json={"mentions": [mention("app", "case-42", "again")]},
            headers=auth(KEY_A),
        )
        assert batch.json()["results"][0]["status"] == "duplicate"
        # A platform's ids name one post whoever submits it: still deduped across keys.
        tweet = mention("x", "1864400000000000042", "Shots fired on 5th")
        first = client.post("/v1/mentions", json=tweet, headers=auth(KEY_B))
        assert first.json()["mention_id"] == mention_id_for("x", "1864400000000000042")
        second = client.post("/v1/mentions", json=tweet, headers=auth(KEY_A))
        assert (second.status_code, second.json()["status"]) == (200, "duplicate")
    records = run_async(topic_reader.read_quiet(RAW.name(topic_prefix), settle=1.5))
    events = [MentionReceived.model_validate_json(r.value) for r in records]
    texts = sorted(e.mention.text for e in events if e.mention.source_id == "case-42")
    assert texts == ["Man with a knife outside the school on Oak Ave", "nothing to see"]
    assert len(events) == 3


def test_a_key_file_agency_must_be_a_non_empty_string(tmp_path):
    path = keys_file(tmp_path, [entry("a", KEY_A, ["app"], agency="")])
    with pytest.raises(KeyFileError, match=r"\[0\]\.agency"):
        create_app(IngestSettings(ingest_api_keys_file=path))


# --- finding 10: intake fails closed ----------------------------------------


def test_without_a_keys_file_ingest_refuses_to_start_naming_the_settings():
    with pytest.raises(KeyFileError) as refused:
        create_app(IngestSettings())
    assert "SWITCHBOARD_INGEST_API_KEYS_FILE" in str(refused.value)
    assert "SWITCHBOARD_INGEST_ALLOW_OPEN" in str(refused.value)


def test_the_ingest_process_exits_with_the_message_when_no_keys_are_configured(
    kafka_bootstrap, topic_prefix
):
    env = {
        "PATH": "/usr/bin:/bin",
        "SWITCHBOARD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": topic_prefix,
        "SWITCHBOARD_INGEST_PORT": "0",
    }
    result = run_to_refusal("switchboard_ingest", env, timeout=60, cwd=REPO)
    assert result.returncode != 0
    assert "refusing to start" in result.stderr
    assert "SWITCHBOARD_INGEST_ALLOW_OPEN=true" in result.stderr


def test_open_intake_needs_the_explicit_opt_in(kafka_bootstrap, topic_prefix):
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix, ingest_allow_open=True
    )
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        response = client.post("/v1/mentions", json=mention("app", "open-1", "Open door"))
        assert response.status_code == 202
