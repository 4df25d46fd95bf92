"""The behaviour table: what each platform answer (or its absence) means for one send."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from switchboard_responder.answers import (
    MAX_ERROR_CHARS,
    Answer,
    LostAnswer,
    Verdict,
    cut_short,
    judge,
    over_the_limit,
    rate_limit_of,
)
from switchboard_responder.platforms import Platform
from switchboard_shared.events import ReplyStatus

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
WAIT = timedelta(seconds=60)
TEXT = "Officers are on their way to Elm Street"


def decide(platform, result, *, retries_left=3):
    return judge(
        platform, result, now=NOW, retries_left=retries_left, rate_limit_wait=WAIT, redact=(TEXT,)
    )


def created(platform):
    if platform is Platform.X:
        return Answer(201, {}, {"data": {"id": "1850", "text": TEXT}})
    if platform is Platform.MASTODON:
        return Answer(200, {}, {"id": "1850", "content": f"<p>{TEXT}</p>"})
    return Answer(200, {}, {"id": "111_1850"})


@pytest.mark.parametrize("platform", list(Platform))
def test_a_2xx_with_an_id_is_sent_with_the_platforms_post_id(platform):
    decision = decide(platform, created(platform))
    assert decision.verdict is Verdict.SENT
    assert decision.verdict.status is ReplyStatus.SENT
    assert decision.platform_post_id == ("111_1850" if platform is Platform.META else "1850")
    assert decision.http_status == created(platform).status


@pytest.mark.parametrize("platform", list(Platform))
def test_a_2xx_without_an_id_is_unknown_not_sent(platform):
    decision = decide(platform, Answer(200, {}, {"unexpected": True}))
    assert decision.verdict is Verdict.UNKNOWN and decision.maybe_posted


def test_an_x_429_waits_for_the_epoch_reset_and_proves_nothing_was_posted():
    reset = NOW + timedelta(seconds=42)
    headers = {
        "x-rate-limit-limit": "300",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(reset.timestamp())),
    }
    decision = decide(Platform.X, Answer(429, headers, {"title": "Too Many Requests"}))
    assert decision.verdict is Verdict.RATE_LIMITED
    assert decision.verdict.status is ReplyStatus.SENDING
    assert not decision.verdict.final and not decision.maybe_posted
    assert decision.retry_at == reset and decision.http_status == 429
    assert decision.rate_limit.remaining == 0 and decision.rate_limit.limit == 300


def test_a_mastodon_429_waits_for_the_iso_reset():
    headers = {
        "x-ratelimit-limit": "300",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "2026-12-03T08:05:00.000Z",
    }
    decision = decide(Platform.MASTODON, Answer(429, headers, {"error": "Too many requests"}))
    assert decision.verdict is Verdict.RATE_LIMITED
    assert decision.retry_at == datetime(2026, 12, 3, 8, 5, tzinfo=UTC)


def test_a_429_without_a_reset_time_waits_the_configured_wait():
    decision = decide(Platform.X, Answer(429, {}, None))
    assert decision.retry_at == NOW + WAIT


def test_a_429_whose_reset_is_already_past_waits_the_configured_wait():
    past = {"x-rate-limit-reset": str(int((NOW - timedelta(seconds=5)).timestamp()))}
    assert decide(Platform.X, Answer(429, past, None)).retry_at == NOW + WAIT


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_metas_rate_limit_codes_wait_for_the_time_to_regain_access(code):
    usage = {"page": [{"call_count": 100, "estimated_time_to_regain_access": 7}]}
    headers = {"x-business-use-case-usage": json.dumps(usage)}
    body = {"error": {"code": code, "message": "Application request limit reached"}}
    decision = decide(Platform.META, Answer(400, headers, body))
    assert decision.verdict is Verdict.RATE_LIMITED and not decision.maybe_posted
    assert decision.retry_at == NOW + timedelta(minutes=7)


@pytest.mark.parametrize("platform", list(Platform))
@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_an_auth_error_of_the_channel_not_a_failure(platform, status):
    decision = decide(platform, Answer(status, {}, None))
    assert decision.verdict is Verdict.AUTH_ERROR
    assert not decision.verdict.final and not decision.maybe_posted


def test_metas_bad_token_code_is_an_auth_error_whatever_the_status():
    body = {"error": {"code": 190, "message": "Error validating access token"}}
    assert decide(Platform.META, Answer(400, {}, body)).verdict is Verdict.AUTH_ERROR


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_mastodon_5xx_is_resent_with_the_same_key_while_retries_last(status):
    assert decide(Platform.MASTODON, Answer(status, {}, None)).verdict is Verdict.TRY_AGAIN
    last = decide(Platform.MASTODON, Answer(status, {}, None), retries_left=0)
    assert last.verdict is Verdict.FAILED_RETRYABLE and last.http_status == status


@pytest.mark.parametrize("platform", [Platform.X, Platform.META])
def test_an_x_or_meta_5xx_fails_retryable_at_once(platform):
    decision = decide(platform, Answer(503, {}, None))
    assert decision.verdict is Verdict.FAILED_RETRYABLE and decision.maybe_posted


@pytest.mark.parametrize("lost", [LostAnswer.TIMED_OUT, LostAnswer.DROPPED])
@pytest.mark.parametrize("platform", [Platform.X, Platform.META])
def test_a_lost_answer_on_x_or_meta_is_unknown_and_never_resent(platform, lost):
    decision = decide(platform, lost)
    assert decision.verdict is Verdict.UNKNOWN
    assert decision.verdict.status is ReplyStatus.UNKNOWN and decision.maybe_posted
    assert "not re-sent" in decision.error


@pytest.mark.parametrize("lost", [LostAnswer.TIMED_OUT, LostAnswer.DROPPED])
def test_a_lost_answer_on_mastodon_is_resent_with_the_same_key(lost):
    assert decide(Platform.MASTODON, lost).verdict is Verdict.TRY_AGAIN
    assert decide(Platform.MASTODON, lost, retries_left=0).verdict is Verdict.FAILED_RETRYABLE


@pytest.mark.parametrize("platform", list(Platform))
def test_a_refused_connection_is_resent_on_every_platform(platform):
    decision = decide(platform, LostAnswer.NOT_SENT)
    assert decision.verdict is Verdict.TRY_AGAIN and not decision.maybe_posted
    last = decide(platform, LostAnswer.NOT_SENT, retries_left=0)
    assert last.verdict is Verdict.FAILED_RETRYABLE and not last.maybe_posted


@pytest.mark.parametrize(
    ("platform", "status", "body", "message"),
    [
        (Platform.X, 400, {"errors": [{"message": "Invalid reply id"}]}, "Invalid reply id"),
        (Platform.X, 404, {"title": "Not Found", "detail": "tweet gone"}, "tweet gone"),
        (Platform.MASTODON, 422, {"error": "Validation failed"}, "Validation failed"),
        (Platform.META, 400, {"error": {"code": 100, "message": "bad id"}}, "bad id"),
    ],
)
def test_other_4xx_fail_permanently_with_the_platforms_message(platform, status, body, message):
    decision = decide(platform, Answer(status, {}, body))
    assert decision.verdict is Verdict.FAILED_PERMANENT
    assert decision.error == f"{status} {message}" and decision.http_status == status


def test_an_error_message_never_carries_the_reply_text_and_is_cut_short():
    body = {"error": f"Validation failed: '{TEXT}' is a duplicate " + "x" * 1000}
    decision = decide(Platform.MASTODON, Answer(422, {}, body))
    assert TEXT not in decision.error
    assert len(decision.error) <= MAX_ERROR_CHARS
    assert cut_short("a\n  b") == "a b"


def test_rate_limit_headers_are_read_on_successful_answers_too():
    headers = {"x-rate-limit-limit": "5", "x-rate-limit-remaining": "4", "x-rate-limit-reset": "0"}
    limit = decide(Platform.X, Answer(201, headers, {"data": {"id": "1"}})).rate_limit
    assert (limit.limit, limit.remaining) == (5, 4)
    assert rate_limit_of(Platform.X, {}, now=NOW) is None
    assert rate_limit_of(Platform.META, {"x-business-use-case-usage": "not json"}, now=NOW) is None


def test_a_reply_longer_than_the_channel_takes_fails_before_any_request():
    refused = over_the_limit("x" * 501, 500)
    assert refused.verdict is Verdict.FAILED_PERMANENT and not refused.maybe_posted
    assert "501" in refused.error and "500" in refused.error
    assert over_the_limit("x" * 500, 500) is None
    assert over_the_limit("x" * 5000, None) is None
