"""What a platform's answer to one send means: the behaviour table of the responder.

Pure: the sender turns an HTTP exchange into an `Answer` (or a `LostAnswer`
when none came back), and `judge` decides what follows, with the time passed
in. Nothing here sends, sleeps or stores.

| answer                                   | X, Meta                  | Mastodon                      |
|------------------------------------------|--------------------------|-------------------------------|
| 2xx with the post's id                   | sent                     | sent                          |
| 429 / Meta codes 4, 17, 32, 613          | wait until reset, resend | wait until reset, resend      |
| 401, 403 / Meta code 190                 | channel auth_error, wait | channel auth_error, wait      |
| 5xx                                      | failed_retryable         | resend (same key), then f._r. |
| timeout or connection lost after sending | unknown                  | resend (same key), then f._r. |
| connection refused (nothing sent)        | resend, then f._r.       | resend, then f._r.            |
| any other 4xx                            | failed_permanent         | failed_permanent              |
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from switchboard_responder.bucket import RateLimit
from switchboard_responder.platforms import Platform
from switchboard_shared.events import ReplyStatus

# Enough of a platform's error message to tell what went wrong.
MAX_ERROR_CHARS = 200
# Meta Graph error codes that mean "too many calls" (API, app, user, page limits).
META_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
META_BAD_TOKEN_CODE = 190


@dataclass(frozen=True)
class Answer:
    """A platform's HTTP answer: status, headers (names in lower case) and the JSON body, if any."""

    status: int
    headers: Mapping[str, str]
    body: Any = None


class LostAnswer(StrEnum):
    """No answer came back, and whether the request had left the responder by then."""

    NOT_SENT = "not_sent"  # refused or never connected: nothing reached the platform
    TIMED_OUT = "timed_out"  # sent; no answer within the timeout
    DROPPED = "dropped"  # sent; the connection closed before the answer


class Verdict(StrEnum):
    """What the responder does next with one attempt."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"  # not posted; wait until retry_at, then send again
    AUTH_ERROR = "auth_error"  # not posted; the channel's credentials are refused
    TRY_AGAIN = "try_again"  # send again after a back-off (nothing posted, or the platform dedupes)
    FAILED_RETRYABLE = "failed_retryable"
    FAILED_PERMANENT = "failed_permanent"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """True when the attempt ends here: the outcome is stored and published."""
        return self in _FINAL_VERDICTS

    @property
    def status(self) -> ReplyStatus:
        """The reply status an outcome of this verdict carries."""
        return _STATUS_OF[self]


_FINAL_VERDICTS = frozenset(
    {Verdict.SENT, Verdict.FAILED_RETRYABLE, Verdict.FAILED_PERMANENT, Verdict.UNKNOWN}
)
_STATUS_OF = {
    Verdict.SENT: ReplyStatus.SENT,
    Verdict.RATE_LIMITED: ReplyStatus.SENDING,
    Verdict.AUTH_ERROR: ReplyStatus.SENDING,
    Verdict.TRY_AGAIN: ReplyStatus.SENDING,
    Verdict.FAILED_RETRYABLE: ReplyStatus.FAILED_RETRYABLE,
    Verdict.FAILED_PERMANENT: ReplyStatus.FAILED_PERMANENT,
    Verdict.UNKNOWN: ReplyStatus.UNKNOWN,
}


@dataclass(frozen=True)
class Decision:
    """The verdict on one answer, with what the outcome and the channel need from it."""

    verdict: Verdict
    # False only when the answer proves no post was created (so a later resend is safe anywhere).
    maybe_posted: bool
    http_status: int | None = None
    platform_post_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    rate_limit: RateLimit | None = None


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _iso_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _meta_regain_minutes(headers: Mapping[str, str]) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage."""

    try:
        usage = json.loads(headers["x-business-use-case-usage"])
    except (KeyError, ValueError):
        return None
    minutes: list[float] = []
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                value = (
                    entry.get("estimated_time_to_regain_access")
                    if isinstance(entry, dict)
                    else None
                )
                if isinstance(value, int | float) and not isinstance(value, bool):
                    minutes.append(float(value))
    return max(minutes) if minutes else None


def rate_limit_of(
    platform: Platform, headers: Mapping[str, str], *, now: datetime
) -> RateLimit | None:
    """The account's window as an answer's headers describe it, or None when they do not."""
    if platform is Platform.X:
        reset = _header_int(headers, "x-rate-limit-reset")
        limit = RateLimit(
            limit=_header_int(headers, "x-rate-limit-limit"),
            remaining=_header_int(headers, "x-rate-limit-remaining"),
            reset_at=datetime.fromtimestamp(reset, UTC) if reset is not None else None,
        )
    elif platform is Platform.MASTODON:
        limit = RateLimit(
            limit=_header_int(headers, "x-ratelimit-limit"),
            remaining=_header_int(headers, "x-ratelimit-remaining"),
            reset_at=_iso_time(headers.get("x-ratelimit-reset")),
        )
    else:
        # Meta gives no count, only how long until access returns once it is cut.
        minutes = _meta_regain_minutes(headers)
        if not minutes:
            return None
        limit = RateLimit(limit=None, remaining=0, reset_at=now + timedelta(minutes=minutes))
    if limit.limit is None and limit.remaining is None and limit.reset_at is None:
        return None
    return limit


def platform_error(platform: Platform, body: Any) -> tuple[int | None, str]:
    """The platform's error code (Meta's) and message from an error body."""
    if not isinstance(body, dict):
        return None, ""
    if platform is Platform.META:
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return (code if isinstance(code, int) else None), str(error.get("message", ""))
        return None, ""
    if platform is Platform.MASTODON:
        return None, str(body.get("error", ""))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return None, str(errors[0].get("message", ""))
    return None, str(body.get("detail") or body.get("title") or "")


def cut_short(message: str, *, redact: Sequence[str] = ()) -> str:
    """A platform message fit for outcomes and logs: no reply text in it, at most MAX_ERROR_CHARS."""
    for text in redact:
        if text:
            message = message.replace(text, "[reply text]")
    message = " ".join(message.split())
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


def _post_id(platform: Platform, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    holder = body.get("data") if platform is Platform.X else body
    post_id = holder.get("id") if isinstance(holder, dict) else None
    return str(post_id) if isinstance(post_id, str | int) and str(post_id) else None


def judge(
    platform: Platform,
    result: Answer | LostAnswer,
    *,
    now: datetime,
    retries_left: int,
    rate_limit_wait: timedelta,
    redact: Sequence[str] = (),
) -> Decision:
    """What follows this answer (or its absence) for one send.

    `retries_left` is how many more resends this attempt may make after a
    failure that allows one; `rate_limit_wait` is the wait after a rate limit
    that says no reset time.
    """
    if isinstance(result, LostAnswer):
        return _judge_lost(platform, result, retries_left=retries_left)
    limit = rate_limit_of(platform, result.headers, now=now)
    status = result.status
    code, message = platform_error(platform, result.body) if status >= 300 else (None, "")
    error = cut_short(f"{status} {message}".strip(), redact=redact)

    def decided(verdict: Verdict, *, maybe_posted: bool, **more: Any) -> Decision:
        return Decision(
            verdict, maybe_posted=maybe_posted, http_status=status, rate_limit=limit, **more
        )

    if 200 <= status < 300:
        post_id = _post_id(platform, result.body)
        if post_id is None:
            return decided(
                Verdict.UNKNOWN, maybe_posted=True, error=f"{status} without the post's id"
            )
        return decided(Verdict.SENT, maybe_posted=True, platform_post_id=post_id)
    if status == 429 or code in META_RATE_LIMIT_CODES:
        reset = limit.reset_at if limit is not None else None
        retry_at = reset if reset is not None and reset > now else now + rate_limit_wait
        return decided(Verdict.RATE_LIMITED, maybe_posted=False, error=error, retry_at=retry_at)
    if status in (401, 403) or code == META_BAD_TOKEN_CODE:
        return decided(Verdict.AUTH_ERROR, maybe_posted=False, error=error)
    if status >= 500:
        if platform.deduplicates and retries_left > 0:
            return decided(Verdict.TRY_AGAIN, maybe_posted=True, error=error)
        # A 5xx may come after the post was made; on X and Meta a person looks first.
        return decided(Verdict.FAILED_RETRYABLE, maybe_posted=True, error=error)
    return decided(Verdict.FAILED_PERMANENT, maybe_posted=False, error=error)


def _judge_lost(platform: Platform, lost: LostAnswer, *, retries_left: int) -> Decision:
    if lost is LostAnswer.NOT_SENT:
        verdict = Verdict.TRY_AGAIN if retries_left > 0 else Verdict.FAILED_RETRYABLE
        return Decision(verdict, maybe_posted=False, error="connection refused: nothing was sent")
    error = (
        "no answer within the timeout"
        if lost is LostAnswer.TIMED_OUT
        else "connection lost before the answer"
    )
    if platform.deduplicates:
        verdict = Verdict.TRY_AGAIN if retries_left > 0 else Verdict.FAILED_RETRYABLE
        return Decision(verdict, maybe_posted=True, error=error)
    return Decision(
        Verdict.UNKNOWN,
        maybe_posted=True,
        error=f"{error}: the post may exist; not re-sent (the platform has no idempotency key)",
    )


def over_the_limit(text: str, max_chars: int | None) -> Decision | None:
    """A permanent failure when `text` is longer than the channel takes (checked before sending)."""
    if max_chars is None or len(text) <= max_chars:
        return None
    return Decision(
        Verdict.FAILED_PERMANENT,
        maybe_posted=False,
        error=f"reply is {len(text)} characters; the channel takes at most {max_chars}",
    )
