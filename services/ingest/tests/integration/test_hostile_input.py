"""Property-based: malformed and hostile payloads at every intake endpoint.

Whatever arrives, the answer is a 4xx problem document — never a 500 — and
nothing reaches Kafka.
"""

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import run_async, wait_app_ready
from switchboard_ingest.app import create_app
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import MentionIn
from switchboard_shared.topics import DEADLETTER, RAW

pytestmark = pytest.mark.kafka

VALID = {
    "source": "app",
    "source_id": "h-1",
    "text": "Loud party on Elm",
    "created_at": "2026-11-29T22:00:00Z",
}
FIELDS = [
    *VALID,
    "author",
    "url",
    "language",
    "geo",
    "district",
    "metadata",
    "references",
    "media",
    "unexpected",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
hostile_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "'; DROP TABLE items; --",
        "<script>alert(1)</script>",
        "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        "A" * 20_000,
    ]
)


@st.composite
def broken_mentions(draw):
    """A valid mention with one field replaced, removed or added by something hostile."""
    mention = dict(VALID)
    field = draw(st.sampled_from(FIELDS))
    action = draw(st.sampled_from(["replace", "remove", "text"]))
    if action == "remove":
        mention.pop(field, None)
    elif action == "text":
        mention[field] = draw(hostile_text)
    else:
        mention[field] = draw(json_values)
    return mention


def is_valid(mention) -> bool:
    try:
        MentionIn.model_validate(mention)
    except (ValidationError, TypeError, ValueError):
        return False
    return True


def assert_problem(response, allowed=range(400, 500)):
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == response.status_code
    assert body["detail"]


@pytest.fixture(scope="module")
def hostile_client(kafka_bootstrap):
    prefix = "test-hostile."
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        ingest_max_body_bytes=16_384,
        ingest_x_consumer_secret="x-secret",
        ingest_meta_app_secret="meta-secret",
        ingest_meta_verify_token="verify-me",
        ingest_allow_open=True,
    )
    with TestClient(create_app(settings)) as client:
        wait_app_ready(client)
        yield client, prefix


SETTINGS = hsettings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(mention=broken_mentions())
def test_a_broken_mention_always_gets_a_4xx_problem(hostile_client, mention):
    assume(not is_valid(mention))
    client, _ = hostile_client
    response = client.post(
        "/v1/mentions", content=json.dumps(mention), headers={"content-type": "application/json"}
    )
    assert_problem(response)


@SETTINGS
@given(items=st.lists(broken_mentions(), min_size=1, max_size=5) | json_values)
def test_a_broken_batch_always_gets_a_4xx(hostile_client, items):
    body = (
        {"mentions": items}
        if isinstance(items, list) and items and isinstance(items[0], dict)
        else items
    )
    if isinstance(body, dict) and "mentions" in body:
        assume(not any(is_valid(m) for m in body["mentions"]))
    client, _ = hostile_client
    response = client.post(
        "/v1/mentions/batch", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code in range(400, 500), response.text[:300]
    if "results" in response.json():
        assert {r["status"] for r in response.json()["results"]} == {"invalid"}
    else:
        assert_problem(response)


@SETTINGS
@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/json; charset=utf-8"]
    ),
)
def test_raw_bytes_at_the_json_endpoints_get_a_4xx_problem(hostile_client, body, content_type):
    assume(not is_valid_json_mention(body))
    client, _ = hostile_client
    for path in ("/v1/mentions", "/v1/mentions/batch"):
        assert_problem(client.post(path, content=body, headers={"content-type": content_type}))


def is_valid_json_mention(body: bytes) -> bool:
    try:
        return is_valid(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return False


@SETTINGS
@given(body=st.binary(max_size=2000), signature=st.text(max_size=80) | st.none())
def test_webhooks_refuse_anything_unsigned_or_wrongly_signed(hostile_client, body, signature):
    client, _ = hostile_client
    for path, header in (
        ("/v1/webhooks/x", "x-twitter-webhooks-signature"),
        ("/v1/webhooks/meta", "x-hub-signature-256"),
    ):
        headers = {"content-type": "application/json"}
        if signature is not None:
            headers[header] = signature.encode("ascii", "ignore").decode()
        response = client.post(path, content=body, headers=headers)
        assert_problem(response, allowed={400, 401, 403, 413, 415, 422})


def test_nothing_hostile_reached_kafka(hostile_client, topic_reader):
    # Runs after the property tests in this module (same module-scoped client and topics).
    _, prefix = hostile_client
    assert run_async(topic_reader.read_quiet(RAW.name(prefix), settle=2)) == []
    assert run_async(topic_reader.read_quiet(DEADLETTER.name(prefix), settle=1)) == []


@SETTINGS
@given(
    params=st.dictionaries(
        st.sampled_from(["crc_token", "hub.mode", "hub.verify_token", "hub.challenge", "x"]),
        st.text(max_size=200),
        max_size=4,
    )
)
def test_webhook_handshakes_never_fail_with_a_server_error(hostile_client, params):
    client, _ = hostile_client
    x = client.get("/v1/webhooks/x", params=params)
    if x.status_code == 200:
        assert x.json()["response_token"].startswith("sha256=")
        assert "crc_token" in params
    else:
        assert_problem(x)
    meta = client.get("/v1/webhooks/meta", params=params)
    if meta.status_code == 200:
        assert params.get("hub.verify_token") == "verify-me"
        assert meta.text == params["hub.challenge"]
    else:
        assert_problem(meta)
