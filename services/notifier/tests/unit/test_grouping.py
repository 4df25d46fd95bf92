"""Grouping pages a group once per wave and says why everything else paged nobody."""

from datetime import UTC, datetime
from functools import partial

from services.notifier.tests import escalations
from switchboard_notifier.grouping import (
    GroupState,
    PendingSend,
    SuppressReason,
    Wave,
    cancelled_by_ack,
    decide,
    dedupe_key,
    group_key,
    member_step,
)
from switchboard_shared.events import Urgency

STEPS = (1, 10, 50)


escalation = partial(escalations.escalation, queue_id="patrol", urgency=Urgency.HIGH)


def test_the_group_is_the_incident_when_there_is_one_else_the_item():
    assert group_key(escalation(incident_id=12)) == "incident:12"
    assert group_key(escalation()) == "item:7"


def test_member_steps():
    assert [member_step(n, STEPS) for n in (1, 9, 10, 49, 50, 500)] == [1, 1, 10, 10, 50, 50]


def test_fifty_members_of_one_incident_page_at_1_10_and_50_only():
    state = None
    paged, suppressed = [], 0
    for count in range(1, 51):
        decision = decide(state, escalation(incident_id=3, member_count=count), STEPS)
        if isinstance(decision, Wave):
            paged.append(count)
            state = GroupState(decision.urgency, decision.member_step)
        else:
            assert decision is SuppressReason.SAME_WAVE
            suppressed += 1
    assert paged == [1, 10, 50]
    assert suppressed == 47


def test_a_rise_in_urgency_pages_again_and_a_fall_does_not():
    state = GroupState(Urgency.HIGH, 1)
    rose = decide(state, escalation(urgency=Urgency.CRITICAL), STEPS)
    assert rose == Wave(Urgency.CRITICAL, 1)
    assert decide(state, escalation(urgency=Urgency.NORMAL), STEPS) is SuppressReason.SAME_WAVE


def test_a_later_wave_never_lowers_the_groups_state():
    state = GroupState(Urgency.CRITICAL, 1)
    grew = decide(state, escalation(urgency=Urgency.HIGH, member_count=10), STEPS)
    assert grew == Wave(Urgency.CRITICAL, 10)


def test_the_same_escalation_gives_the_same_dedupe_key():
    wave = decide(None, escalation(), STEPS)
    assert isinstance(wave, Wave)
    again = decide(None, escalation(), STEPS)
    assert dedupe_key("item:7", wave, "duty", "sms", "r0s0") == dedupe_key(
        "item:7", again, "duty", "sms", "r0s0"
    )
    assert dedupe_key("item:7", wave, "duty", "sms", "r0s0") != dedupe_key(
        "item:7", wave, "duty", "sms", "r0s1"
    )


def test_an_acknowledgement_cancels_every_pending_send_of_its_group_only():
    at = datetime(2026, 12, 3, tzinfo=UTC)
    pending = [
        PendingSend("a", "item:1", at),
        PendingSend("b", "item:2", at),
        PendingSend("c", "item:1", at),
    ]
    assert cancelled_by_ack(pending, "item:1") == ["a", "c"]
    assert cancelled_by_ack(pending, "item:3") == []
