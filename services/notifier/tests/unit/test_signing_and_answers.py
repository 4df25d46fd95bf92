"""The webhook signature and what each channel's answer means."""

import hashlib
import hmac

import pytest

from switchboard_notifier.answers import Attempt, Outcome, judge
from switchboard_notifier.policy import ChannelKind
from switchboard_notifier.signing import signature, verify


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"item_id":7}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == f"sha256={expected}"
    assert verify("s3cret", "1700000000", body, f"sha256={expected}")
    assert not verify("s3cret", "1700000001", body, f"sha256={expected}")
    assert not verify("other", "1700000000", body, f"sha256={expected}")


@pytest.mark.parametrize(
    ("channel", "status", "outcome"),
    [
        (ChannelKind.PAGERDUTY, 202, Outcome.DELIVERED),
        (ChannelKind.PAGERDUTY, 400, Outcome.FAILED),
        (ChannelKind.PAGERDUTY, 429, Outcome.RETRY),
        (ChannelKind.WEBHOOK, 200, Outcome.DELIVERED),
        (ChannelKind.WEBHOOK, 503, Outcome.RETRY),
        (ChannelKind.SMS, 201, Outcome.DELIVERED),
        (ChannelKind.SMS, 429, Outcome.RETRY),
        (ChannelKind.SMS, 500, Outcome.RETRY),
        (ChannelKind.SMS, 401, Outcome.FAILED),
        (ChannelKind.EMAIL, 250, Outcome.DELIVERED),
        (ChannelKind.EMAIL, 451, Outcome.RETRY),
        (ChannelKind.EMAIL, 550, Outcome.FAILED),
    ],
)
def test_answers(channel, status, outcome):
    assert judge(channel, Attempt(status), attempts_left=2) is outcome


def test_out_of_attempts_a_retryable_answer_fails():
    assert judge(ChannelKind.SMS, Attempt(500), attempts_left=0) is Outcome.FAILED


def test_no_answer_is_retried_only_where_the_channel_dedupes():
    lost = Attempt(None, error="timeout")
    assert judge(ChannelKind.WEBHOOK, lost, attempts_left=2) is Outcome.RETRY
    assert judge(ChannelKind.PAGERDUTY, lost, attempts_left=2) is Outcome.RETRY
    assert judge(ChannelKind.SMS, lost, attempts_left=2) is Outcome.UNKNOWN
    assert judge(ChannelKind.EMAIL, lost, attempts_left=2) is Outcome.UNKNOWN
    refused = Attempt(None, error="refused", connected=False)
    assert judge(ChannelKind.SMS, refused, attempts_left=2) is Outcome.RETRY
