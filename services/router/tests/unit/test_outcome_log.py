"""What the router logs for each report the responder sends back: the reply, its mention
and item, the attempt and its result (a report carries no text), not the event's times."""

import logging

import pytest
from aiokafka import ConsumerRecord

from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.kafka.outcomes import OutcomeConsumer
from switchboard_router.settings import RouterSettings
from switchboard_shared.events import ReplyOutcome
from switchboard_shared.kafka import encode


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/router.db")
    migrate(engine)
    yield engine
    engine.dispose()


def record_of(outcome: ReplyOutcome) -> ConsumerRecord:
    value = encode(outcome)
    return ConsumerRecord(
        topic="replies.outcomes.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=outcome.mention_id.encode(),
        value=value,
        checksum=None,
        serialized_key_size=len(outcome.mention_id),
        serialized_value_size=len(value),
        headers=(),
    )


# A report made of these fields (and its own id and times): the log line is these, as they are.
LOGGED = {
    "reply_id": "rep-1",
    "mention_id": "m-1",
    "item_id": 7,
    "attempt": 2,
    "status": "failed_retryable",
    "channel": "x",
    "platform_post_id": None,
    "http_status": 503,
    "error": "platform unavailable",
}


async def test_a_report_is_logged_with_its_ids_and_result_but_not_its_times(engine, caplog):
    outcome = ReplyOutcome.model_validate(LOGGED)
    consumer = OutcomeConsumer(RouterSettings(database_url=str(engine.url)), engine)

    with caplog.at_level(logging.INFO, logger="switchboard_router.kafka.outcomes"):
        await consumer.handle_batch([record_of(outcome)])

    [line] = [r for r in caplog.records if r.getMessage() == "reply outcome"]
    assert line.fields == LOGGED
