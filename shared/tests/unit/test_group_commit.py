"""A group member's commit: the offsets it is given, nothing when there are none, and a
commit the group refused (a rebalance) logged as a replay instead of ending the loop."""

import asyncio
import logging

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from switchboard_shared.kafka import GroupMember

P0 = TopicPartition("replies.v1", 0)
P1 = TopicPartition("replies.v1", 1)
log = logging.getLogger("test.group_commit")


class Consumer:
    """Just the consumer's commit: what it was asked to commit, or the error it raises."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.error is not None:
            raise self.error
        self.commits.append(offsets)


class Member(GroupMember):
    task_name = "test-member"

    async def _run(self) -> None:
        raise AssertionError("not started in these tests")


def member_with(consumer: Consumer) -> Member:
    member = Member()
    member.consumer = consumer  # type: ignore[assignment]
    return member


def test_the_given_offsets_are_committed_and_none_commit_nothing():
    consumer = Consumer()
    member = member_with(consumer)
    asyncio.run(member.commit({P0: 13, P1: 8}, logger=log))
    asyncio.run(member.commit({}, logger=log))
    assert consumer.commits == [{P0: 13, P1: 8}]


@pytest.mark.parametrize(
    "error", [CommitFailedError("rebalanced"), KafkaConnectionError("no broker")]
)
def test_a_refused_commit_is_logged_as_a_replay_and_not_raised(error, caplog):
    member = member_with(Consumer(error))
    with caplog.at_level(logging.WARNING, logger=log.name):
        asyncio.run(member.commit({P0: 13}, logger=log))
    [line] = [r for r in caplog.records if r.name == log.name]
    assert line.getMessage() == "offset commit failed; records will be replayed"
    assert type(error).__name__ in line.fields["error"]
