"""What a log line says about a responder's report (`ReplyOutcome`): the responder that
sends it and the router that applies it log the same fields, named once here."""

from __future__ import annotations

from switchboard_shared.events import ReplyOutcome
from switchboard_shared.logs import fields

# A report carries no reply or mention text (see `ReplyOutcome`); of its fields a log line
# gets the ids and the result, not the event's own id and times.
LOGGED_FIELDS = frozenset(
    {
        "reply_id",
        "mention_id",
        "item_id",
        "attempt",
        "status",
        "channel",
        "platform_post_id",
        "http_status",
        "error",
    }
)


def outcome_fields(outcome: ReplyOutcome) -> dict[str, dict[str, object]]:
    """`extra=` for a log line about a report: its ids, attempt and result."""
    return fields(**outcome.model_dump(mode="json", include=set(LOGGED_FIELDS)))
