"""The responder on the real broker, a real PostgreSQL ledger and the platform stand-in:
every request ends in one outcome, and no reply is ever posted twice."""

from datetime import datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from conftest import wait_for
from switchboard_responder import ledger
from switchboard_shared.events import DeadLetter, ReplyStatus, Source
from switchboard_shared.topics import DEADLETTER

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def posts_of(posts, request):
    return [p for p in posts if p["text"] == request.text]


async def test_a_request_is_posted_once_and_its_outcome_carries_the_post_id(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.MASTODON)
    async with run_responder(responder_settings()) as responder:
        await publish(request)
        outcomes = await final_outcomes(request.reply_id)
        with responder.engine.connect() as connection:
            row = connection.execute(select(ledger.sends)).one()
    (outcome,) = outcomes
    (post,) = posts_of(await standin_control.posts(), request)
    assert outcome.status is ReplyStatus.SENT
    assert outcome.platform_post_id == post["id"] and outcome.http_status == 200
    assert (outcome.mention_id, outcome.item_id, outcome.attempt) == (
        request.mention_id,
        request.item_id,
        request.attempt,
    )
    assert post["in_reply_to"] == request.in_reply_to
    assert post["idempotency_key"] == request.reply_id
    assert (row.reply_id, row.attempt, row.state) == (request.reply_id, 1, "done")


@pytest.mark.parametrize("source", [Source.X, Source.FACEBOOK])
async def test_x_and_meta_posts_carry_their_platforms_ids(
    source,
    responder_settings,
    run_responder,
    make_request,
    publish,
    final_outcomes,
    standin_control,
):
    request = make_request(source, in_reply_to="1111_2222")
    async with run_responder(responder_settings()):
        await publish(request)
        (outcome,) = await final_outcomes(request.reply_id)
    (post,) = posts_of(await standin_control.posts(), request)
    assert outcome.status is ReplyStatus.SENT and outcome.channel == source.value
    expected = f"1111_{post['id']}" if source is Source.FACEBOOK else post["id"]
    assert outcome.platform_post_id == expected
    assert post["in_reply_to"] == "1111_2222"


async def test_the_same_request_published_twice_and_after_a_restart_is_posted_once(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.X)
    settings = responder_settings()
    async with run_responder(settings):
        await publish(request)
        await publish(request)
        first = await final_outcomes(request.reply_id, final=2)
    async with run_responder(settings):
        await publish(request)
        every = await final_outcomes(request.reply_id, final=3)
    assert [o.status for o in first] == [ReplyStatus.SENT, ReplyStatus.SENT]
    assert len(every) == 3
    assert len({o.platform_post_id for o in every}) == 1
    assert len({o.event_id for o in every}) == 1  # the stored outcome, published again
    assert len(posts_of(await standin_control.posts(), request)) == 1


async def test_a_429_is_retried_at_its_reset_and_holds_only_its_own_channel(
    responder_settings,
    run_responder,
    make_request,
    publish,
    outcomes,
    final_outcomes,
    standin_control,
):
    limited, behind = make_request(Source.X), make_request(Source.X)
    elsewhere = make_request(Source.MASTODON)
    await standin_control.fault("429", platform="x", seconds=3)
    async with run_responder(responder_settings()):
        await publish(limited)
        (sending,) = await outcomes(1, reply_id=limited.reply_id)
        # The channel is held now: these go out only once the window resets.
        await publish(behind)
        await publish(elsewhere)
        (elsewhere_outcome,) = await final_outcomes(elsewhere.reply_id)
        limited_outcomes = await final_outcomes(limited.reply_id)
        (behind_outcome,) = await final_outcomes(behind.reply_id)
    assert sending.status is ReplyStatus.SENDING and sending.http_status == 429
    assert sending.retry_at is not None
    assert [o.status for o in limited_outcomes] == [ReplyStatus.SENDING, ReplyStatus.SENT]
    assert behind_outcome.status is ReplyStatus.SENT
    assert elsewhere_outcome.status is ReplyStatus.SENT
    posts = await standin_control.posts()
    (limited_post,) = posts_of(posts, limited)
    (behind_post,) = posts_of(posts, behind)
    (elsewhere_post,) = posts_of(posts, elsewhere)
    assert datetime.fromisoformat(limited_post["created_at"]) >= sending.retry_at
    assert datetime.fromisoformat(behind_post["created_at"]) >= sending.retry_at
    # Mastodon did not wait for X's window.
    assert datetime.fromisoformat(elsewhere_post["created_at"]) < sending.retry_at
    # X saw the 429 and then one request per reply: the held reply was never sent early.
    assert (await standin_control.requests())["x"] == 3


async def test_an_x_send_that_times_out_is_unknown_and_never_posted_again(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.X)
    await standin_control.fault("hang", platform="x", seconds=5)
    async with run_responder(responder_settings(responder_request_timeout_seconds=0.5)):
        await publish(request)
        (outcome,) = await final_outcomes(request.reply_id)
        await publish(request)  # the router's outbox may publish it again
        again = await final_outcomes(request.reply_id, final=2)
    assert outcome.status is ReplyStatus.UNKNOWN and "not re-sent" in outcome.error
    assert outcome.platform_post_id is None
    assert [o.status for o in again] == [ReplyStatus.UNKNOWN, ReplyStatus.UNKNOWN]
    # The stand-in made the post before it hung: one post, never a second.
    assert len(posts_of(await standin_control.posts(), request)) == 1


async def test_a_mastodon_answer_lost_after_posting_is_resent_with_the_key_and_posted_once(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.MASTODON)
    await standin_control.fault("drop", platform="mastodon")
    await standin_control.fault("500", platform="mastodon")
    async with run_responder(responder_settings()):
        await publish(request)
        (outcome,) = await final_outcomes(request.reply_id)
    (post,) = posts_of(await standin_control.posts(), request)
    assert outcome.status is ReplyStatus.SENT and outcome.platform_post_id == post["id"]


async def test_a_send_in_flight_when_a_responder_died_is_unknown_on_x_and_resent_on_mastodon(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    on_x, on_mastodon = make_request(Source.X), make_request(Source.MASTODON)
    settings = responder_settings()
    async with run_responder(settings) as responder:
        for request in (on_x, on_mastodon):
            # What a responder killed between "sending" and the answer leaves behind.
            now = datetime.now().astimezone()
            keys = {"reply_id": request.reply_id, "attempt": request.attempt}
            ledger.open_entry(
                responder.engine,
                **keys,
                mention_id=request.mention_id,
                channel=request.source.value,
                now=now,
            )
            ledger.mark(responder.engine, **keys, state=ledger.SendState.SENDING, now=now)
            await publish(request)
        (x_outcome,) = await final_outcomes(on_x.reply_id)
        (mastodon_outcome,) = await final_outcomes(on_mastodon.reply_id)
    assert x_outcome.status is ReplyStatus.UNKNOWN
    assert mastodon_outcome.status is ReplyStatus.SENT
    posts = await standin_control.posts()
    assert posts_of(posts, on_x) == []
    assert len(posts_of(posts, on_mastodon)) == 1


def auth_error(channel):
    return REGISTRY.get_sample_value(
        "switchboard_responder_channel_auth_error", {"channel": channel}
    )


async def test_refused_credentials_hold_the_channel_and_the_reply_is_sent_once_they_work(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.MASTODON)
    await standin_control.fault("401", platform="mastodon", count=10**6)
    async with run_responder(responder_settings(responder_auth_retry_seconds=0.2)):
        await publish(request)
        assert await wait_for(lambda: auth_error("mastodon") == 1, timeout=30)
        waiting = await final_outcomes(request.reply_id, timeout=2)
        assert [o for o in waiting if o.status.final] == []  # waiting, not failed
        await standin_control.clear()  # the credentials work again
        (outcome,) = [o for o in await final_outcomes(request.reply_id) if o.status.final]
        assert await wait_for(lambda: auth_error("mastodon") == 0, timeout=10)
    assert outcome.status is ReplyStatus.SENT
    assert len(posts_of(await standin_control.posts(), request)) == 1


async def test_an_unparseable_record_is_dead_lettered_and_the_next_is_still_sent(
    responder_settings,
    run_responder,
    make_request,
    publish,
    final_outcomes,
    topic_reader,
    topic_prefix,
):
    request = make_request(Source.MASTODON)
    async with run_responder(responder_settings()):
        await publish(b"\x00 not json", key=request.mention_id)
        await publish(b'{"schema_version": 1, "reply_id": "r-1", "mention_id": "m-1"}', key="m-1")
        await publish(request)
        (outcome,) = await final_outcomes(request.reply_id)
        records = await topic_reader.read(DEADLETTER.name(topic_prefix), count=2)
    letters = [DeadLetter.model_validate_json(r.value) for r in records]
    assert sorted((letter.stage, letter.reason) for letter in letters) == [
        ("responder", "not_json"),
        ("responder", "schema"),
    ]
    assert {letter.mention_id for letter in letters} == {None, "m-1"}
    assert outcome.status is ReplyStatus.SENT


async def test_a_source_without_a_channel_fails_permanently_saying_why(
    responder_settings, run_responder, make_request, publish, final_outcomes, standin_control
):
    request = make_request(Source.BLUESKY)
    async with run_responder(responder_settings()):
        await publish(request)
        (outcome,) = await final_outcomes(request.reply_id)
    assert outcome.status is ReplyStatus.FAILED_PERMANENT
    assert "no channel configured for source bluesky" in outcome.error
    assert posts_of(await standin_control.posts(), request) == []


async def test_a_graceful_stop_lets_a_send_in_flight_answer_so_a_restart_has_nothing_unknown(
    responder_settings,
    run_responder,
    make_request,
    publish,
    final_outcomes,
    standin,
    standin_control,
):
    import httpx

    request = make_request(Source.X)
    await standin_control.fault("slow", platform="x", seconds=1.5)
    settings = responder_settings(responder_request_timeout_seconds=5)

    def x_requested() -> bool:
        return httpx.get(f"{standin.url}/_standin/requests").json()["x"] >= 1

    async with run_responder(settings):
        await publish(request)
        assert await wait_for(x_requested, timeout=30)
    # Stopped while the request was out; the next responder finds it done.
    async with run_responder(settings):
        (outcome,) = await final_outcomes(request.reply_id)
    assert outcome.status is ReplyStatus.SENT
    assert len(posts_of(await standin_control.posts(), request)) == 1
