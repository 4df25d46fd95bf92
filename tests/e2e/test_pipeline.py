"""The whole pipeline: three services as processes on the real Kafka and PostgreSQL."""

import json
import subprocess
import sys
import time

import httpx
import pytest

from conftest import find_item

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]


API_KEY = "e2e-key"
AUTH = {"authorization": f"Bearer {API_KEY}"}
ROUTER_ADMIN_TOKEN = "e2e-router-admin"
ROUTER_AUTH = {"authorization": f"Bearer {ROUTER_ADMIN_TOKEN}"}


def replay(path, *, rate, url):
    """`switchboard replay` of a file into ingest at a rate, as an operator runs it."""
    arguments = ["replay", str(path), "--rate", rate, "--url", url, "--api-key", API_KEY]
    return subprocess.run(
        [sys.executable, "-m", "switchboard_cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def pipeline(start_services):
    return start_services(api_key=API_KEY, admin_token=ROUTER_ADMIN_TOKEN)


def test_a_posted_emergency_lands_in_the_emergency_queue_with_its_reasons(pipeline):
    urls, services = pipeline
    emergency = {
        "source": "x",
        "source_id": "e2e-1",
        "text": "someone just got shot outside the Shell on 5th and Main",
        "created_at": "2026-11-29T22:00:00Z",
        "district": "Central",
    }
    chatter = {
        "source": "instagram",
        "source_id": "e2e-2",
        "text": "this new album is fire",
        "created_at": "2026-11-29T22:00:00Z",
    }
    answers = [
        httpx.post(f"{urls['ingest']}/v1/mentions", json=m, headers=AUTH)
        for m in (emergency, chatter)
    ]
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]

    item = find_item(
        urls["router"], "emergency", answers[0].json()["mention_id"], token=ROUTER_ADMIN_TOKEN
    )
    assert item is not None, services["router"].log_tail() + services["classifier"].log_tail()
    assert item["urgency"] == "critical"
    assert item["rule"] == "critical-to-emergency"
    assert "active_threat" in item["topics"]
    assert any(r["rule"] == "topics.active_threat" for r in item["reasons"])
    assert item["text"] == emergency["text"]

    low = find_item(
        urls["router"], "general", answers[1].json()["mention_id"], token=ROUTER_ADMIN_TOKEN
    )
    assert low is not None and low["urgency"] == "low"

    # Posting the same mention again is answered as a duplicate and changes nothing downstream.
    again = httpx.post(f"{urls['ingest']}/v1/mentions", json=emergency, headers=AUTH)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["mention_id"] == answers[0].json()["mention_id"]
    queue = httpx.get(f"{urls['router']}/v1/queues/emergency/items", headers=ROUTER_AUTH).json()[
        "items"
    ]
    assert [i["mention_id"] for i in queue] == [answers[0].json()["mention_id"]]

    metrics = {name: httpx.get(f"{url}/metrics").text for name, url in urls.items()}
    assert 'switchboard_ingest_accepted_total{source="x",via="api"} 1.0' in metrics["ingest"]
    assert 'switchboard_ingest_duplicates_total{source="x",via="api"} 1.0' in metrics["ingest"]
    assert 'switchboard_classifier_classified_total{urgency="critical"}' in metrics["classifier"]
    # Queue gauges are read from the database every few seconds, not at the scrape.
    depth = 'switchboard_router_queue_depth{queue="emergency"} 1.0'
    deadline = time.monotonic() + 30
    while depth not in metrics["router"] and time.monotonic() < deadline:
        time.sleep(0.5)
        metrics["router"] = httpx.get(f"{urls['router']}/metrics").text
    assert depth in metrics["router"]


def test_a_malformed_mention_is_refused_naming_the_field(pipeline):
    urls, _ = pipeline
    response = httpx.post(
        f"{urls['ingest']}/v1/mentions",
        json={"source": "x", "source_id": "1", "created_at": "2026-11-29T22:00:00Z"},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "text"


def test_replay_streams_a_file_through_intake_at_a_rate(pipeline, tmp_path):
    urls, _ = pipeline
    lines = [
        {
            "source": "sms",
            "source_id": f"replay-{n}",
            "text": f"Car crash on Route {n} right now",
            "created_at": "2026-11-29T22:00:00Z",
        }
        for n in range(30)
    ]
    path = tmp_path / "drill.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")
    result = replay(path, rate="20/s", url=urls["ingest"])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["replayed"] == {"accepted": 30, "not_json": 1}
    assert "line 31: not JSON" in result.stderr
    assert result.returncode == 1  # one line could not be replayed
    again = replay(path, rate="100/s", url=urls["ingest"])
    assert json.loads(again.stdout.strip().splitlines()[-1])["replayed"] == {
        "duplicate": 30,
        "not_json": 1,
    }
