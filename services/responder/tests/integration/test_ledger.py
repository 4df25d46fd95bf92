"""The send ledger works the same on SQLite (`make run`, beside the router's tables) and PostgreSQL."""

from datetime import UTC, datetime

import pytest

from switchboard_responder import ledger
from switchboard_responder.ledger import SendState
from switchboard_shared.database import make_engine
from switchboard_shared.events import ReplyOutcome, ReplyStatus

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/switchboard-router.db"
    else:
        url = request.getfixturevalue("database_url")
    engine = make_engine(url)
    ledger.create_schema(engine)
    ledger.create_schema(engine)  # a second replica's start-up changes nothing
    yield engine
    engine.dispose()


def test_an_attempt_moves_from_not_sent_to_sending_to_done_and_keeps_its_outcome(engine):
    keys = {"reply_id": "reply-1", "attempt": 1}
    opened = ledger.open_entry(engine, **keys, mention_id="m-1", channel="x", now=NOW)
    assert opened == ledger.Entry(SendState.NOT_SENT, None)
    ledger.mark(engine, **keys, state=SendState.SENDING, now=NOW)
    assert ledger.open_entry(engine, **keys, mention_id="m-1", channel="x", now=NOW).state is (
        SendState.SENDING
    )
    outcome = ReplyOutcome(
        reply_id="reply-1",
        mention_id="m-1",
        item_id=3,
        attempt=1,
        status=ReplyStatus.SENT,
        channel="x",
        platform_post_id="1850",
        http_status=201,
    )
    ledger.finish(engine, outcome=outcome, now=NOW)
    again = ledger.open_entry(engine, **keys, mention_id="m-1", channel="x", now=NOW)
    assert again == ledger.Entry(SendState.DONE, outcome)


def test_each_attempt_of_a_reply_has_a_row_of_its_own(engine):
    first = ledger.open_entry(
        engine, reply_id="reply-2", attempt=1, mention_id="m", channel="x", now=NOW
    )
    ledger.mark(engine, reply_id="reply-2", attempt=1, state=SendState.SENDING, now=NOW)
    second = ledger.open_entry(
        engine, reply_id="reply-2", attempt=2, mention_id="m", channel="x", now=NOW
    )
    assert first.state is SendState.NOT_SENT and second.state is SendState.NOT_SENT
