"""Offsets are committed only up to the oldest unfinished record of each partition."""

from aiokafka import TopicPartition

from switchboard_responder.responder import _Offsets

P0, P1 = TopicPartition("replies", 0), TopicPartition("replies", 1)


def test_a_finished_record_behind_an_unfinished_one_is_not_committed():
    offsets = _Offsets()
    for offset in (10, 11, 12):
        offsets.read(P0, offset)
    offsets.finished(P0, 11)
    offsets.finished(P0, 12)
    assert offsets.committable() == {}
    offsets.finished(P0, 10)
    assert offsets.committable() == {P0: 13}
    assert offsets.committable() == {}


def test_partitions_commit_apart_and_a_revoked_one_is_forgotten():
    offsets = _Offsets()
    offsets.read(P0, 5)
    offsets.read(P1, 7)
    offsets.finished(P1, 7)
    assert offsets.committable() == {P1: 8}
    offsets.keep_only({P1})
    offsets.finished(P0, 5)
    assert offsets.committable() == {}
