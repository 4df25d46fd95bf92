"""Log helpers: an invalid record is described by field and rule, never by its values."""

import pytest
from pydantic import ValidationError

from switchboard_shared.events import MentionIn
from switchboard_shared.logs import MAX_DESCRIBED_ERRORS, describe_invalid

PHONE = "+1 555 0134"
TEXT = "Crying neighbour at 14 Larkspur Lane, call " + PHONE


def test_a_validation_error_is_described_without_the_values_it_carried():
    with pytest.raises(ValidationError) as caught:
        MentionIn.model_validate(
            {
                "source": "sms",
                "source_id": "s-1",
                "text": TEXT,
                "created_at": "not a time " + PHONE,
                "author": {"handle": "larkspur_" + PHONE, "follower_count": -3},
                "metadata": {"note": TEXT * 400},
            }
        )
    # What pydantic's own message carries, and what the helper must not.
    assert PHONE in str(caught.value)
    described = describe_invalid(caught.value)
    assert PHONE not in described and "Larkspur" not in described and "larkspur" not in described
    assert described.startswith("created_at: Input should be a valid datetime")
    assert "author.follower_count: Input should be greater than or equal to 0" in described
    assert "metadata: Value error, metadata is" in described


def test_many_errors_are_summarised():
    with pytest.raises(ValidationError) as caught:
        MentionIn.model_validate({"references": [{"kind": "x"}] * 8, "media": [{}] * 30})
    described = describe_invalid(caught.value)
    assert described.count(";") == MAX_DESCRIBED_ERRORS
    assert described.endswith("more")
