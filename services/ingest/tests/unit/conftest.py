"""Helpers for ingest's unit tests: an in-memory intake for the connectors."""

import pytest

from switchboard_ingest.connectors.common import Backoff
from switchboard_ingest.intake import Outcome, Result
from switchboard_ingest.publisher import KafkaUnavailable


class FakeIntake:
    """Answers like Intake, refusing the first `refusals` submissions as Kafka being down."""

    def __init__(self, refusals: int = 0) -> None:
        self.refusals = refusals
        self.attempts: list[str] = []
        self.accepted: list = []
        self.dead: list[dict] = []

    async def submit(self, mention, *, via):
        self.attempts.append(mention.source_id)
        if self.refusals:
            self.refusals -= 1
            raise KafkaUnavailable("ack_timeout")
        seen = {m.source_id for m in self.accepted}
        self.accepted.append(mention)
        outcome = Outcome.DUPLICATE if mention.source_id in seen else Outcome.ACCEPTED
        return Result(mention_id=mention.mention_id, outcome=outcome)

    async def dead_letter(self, **letter):
        self.dead.append(letter)


@pytest.fixture
def make_intake() -> type[FakeIntake]:
    """The FakeIntake class: `make_intake(refusals=n)` refuses its first n submissions."""
    return FakeIntake


@pytest.fixture
def fast_retries() -> dict[str, Backoff]:
    """Connector keyword arguments that retry Kafka within milliseconds."""
    return {"kafka_backoff": Backoff(0.001, 0.002)}
