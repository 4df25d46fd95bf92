"""The stand-in answers as the platforms do, and misbehaves exactly when told to."""

import httpx
import pytest

from switchboard_standins.server import Standin, StandinServer

X_AUTH = {"Authorization": "Bearer standin-x-token"}
MASTODON_AUTH = {"Authorization": "Bearer standin-mastodon-token"}
META_AUTH = {"Authorization": "Bearer standin-meta-token"}


@pytest.fixture
async def client():
    server = StandinServer(Standin(mastodon_max_chars=20, rate_limit=3))
    await server.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=2) as client:
        yield client
    await server.stop()


def tweet(text="hello"):
    return {"text": text, "reply": {"in_reply_to_tweet_id": "42"}}


async def test_x_creates_a_tweet_with_its_rate_limit_headers(client):
    answer = await client.post("/2/tweets", json=tweet(), headers=X_AUTH)
    assert answer.status_code == 201
    assert answer.json()["data"]["text"] == "hello"
    assert answer.headers["x-rate-limit-remaining"] == "2"
    assert int(answer.headers["x-rate-limit-reset"]) > 0
    (post,) = (await client.get("/_standin/posts")).json()["posts"]
    assert (post["platform"], post["id"], post["in_reply_to"]) == (
        "x",
        answer.json()["data"]["id"],
        "42",
    )


async def test_a_wrong_token_is_refused_and_posts_nothing(client):
    answer = await client.post("/2/tweets", json=tweet(), headers={"Authorization": "Bearer no"})
    assert answer.status_code == 401
    assert (await client.get("/_standin/posts")).json()["posts"] == []


async def test_the_window_runs_out_with_429(client):
    statuses = [
        (await client.post("/2/tweets", json=tweet(f"t{i}"), headers=X_AUTH)).status_code
        for i in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


async def test_mastodon_dedupes_by_idempotency_key(client):
    headers = {**MASTODON_AUTH, "Idempotency-Key": "reply-1"}
    body = {"status": "on our way", "in_reply_to_id": "7"}
    first = await client.post("/api/v1/statuses", json=body, headers=headers)
    second = await client.post("/api/v1/statuses", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert "X-RateLimit-Reset" in first.headers
    assert len((await client.get("/_standin/posts")).json()["posts"]) == 1


async def test_mastodon_refuses_a_status_over_its_character_limit(client):
    body = {"status": "x" * 21, "in_reply_to_id": "7"}
    answer = await client.post("/api/v1/statuses", json=body, headers=MASTODON_AUTH)
    assert answer.status_code == 422 and "character limit of 20" in answer.json()["error"]


async def test_meta_answers_a_comment_and_reports_errors_with_codes(client):
    answer = await client.post("/v19.0/11_22/comments", data={"message": "hi"}, headers=META_AUTH)
    assert answer.status_code == 200 and answer.json()["id"].startswith("11_")
    assert "X-Business-Use-Case-Usage" in answer.headers
    refused = await client.post("/v19.0/11_22/comments", data={"message": "hi"})
    assert refused.json()["error"]["code"] == 190


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("401", 401)])
async def test_a_queued_fault_answers_the_next_request_only(client, kind, status):
    await client.post("/_standin/faults", json={"kind": kind, "platform": "x"})
    faulted = await client.post("/2/tweets", json=tweet("a"), headers=X_AUTH)
    assert faulted.status_code == status
    await client.post("/_standin/faults", json={"kind": "401", "platform": "mastodon"})
    if kind != "429":  # a 429 empties the window until its reset
        assert (await client.post("/2/tweets", json=tweet("b"), headers=X_AUTH)).status_code == 201


async def test_hang_and_drop_create_the_post_but_give_no_answer(client):
    await client.post("/_standin/faults", json={"kind": "hang", "seconds": 5})
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/2/tweets", json=tweet("hung"), headers=X_AUTH, timeout=0.5)
    await client.post("/_standin/faults", json={"kind": "drop"})
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/2/tweets", json=tweet("dropped"), headers=X_AUTH)
    texts = [p["text"] for p in (await client.get("/_standin/posts")).json()["posts"]]
    assert texts == ["hung", "dropped"]


async def test_faults_can_be_cleared(client):
    await client.post("/_standin/faults", json={"kind": "500", "count": 5})
    await client.delete("/_standin/faults")
    assert (await client.get("/_standin/faults")).json() == {"faults": []}
    assert (await client.post("/2/tweets", json=tweet(), headers=X_AUTH)).status_code == 201


async def test_a_fault_of_an_unknown_kind_is_refused(client):
    answer = await client.post("/_standin/faults", json={"kind": "explode"})
    assert answer.status_code == 400
    assert (await client.get("/_standin/faults")).json() == {"faults": []}
