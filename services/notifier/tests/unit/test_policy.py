"""The policy parses, refuses what names an unknown channel or target, and plans steps."""

from functools import partial

import pytest

from services.notifier.tests import escalations
from switchboard_notifier.policy import ChannelKind, PolicyError, load, parse, plan
from switchboard_shared.events import Urgency

POLICY = """
version: t1
channels:
  webhook: {}
  email: {host: localhost, port: 2525, from: sb@example.org}
  pagerduty: {url: "http://pd.example/v2/enqueue"}
targets:
  duty-inspector: {webhook: "http://hooks.example/duty", pagerduty: rk-1, email: duty@example.org}
  deputy: {email: deputy@example.org}
rules:
  - name: patrol-critical
    match: {notify: duty-inspector, queue: "patrol-*", urgency: [critical], tier: [1, 2]}
    steps:
      - {after_seconds: 0, targets: [duty-inspector], channels: [pagerduty, webhook]}
      - {after_seconds: 300, targets: [deputy], channels: [email]}
    ack_timeout_seconds: 600
    repeat: 1
  - name: anything-for-the-inspector
    match: {notify: duty-inspector}
    steps:
      - {targets: [duty-inspector], channels: [email]}
"""


escalation = partial(
    escalations.escalation,
    queue_id="patrol-north",
    urgency=Urgency.CRITICAL,
    notify="duty-inspector",
)


def test_the_shipped_policy_loads():
    policy = load(None)
    assert policy.rule_for(escalation()) is not None
    assert policy.grouping.member_steps == (1, 10, 50)


def test_the_first_matching_rule_takes_an_escalation():
    policy = parse(POLICY)
    assert policy.rule_for(escalation()).name == "patrol-critical"
    assert policy.rule_for(escalation(queue_id="traffic")).name == "anything-for-the-inspector"
    assert policy.rule_for(escalation(tier=3)).name == "anything-for-the-inspector"
    assert policy.rule_for(escalation(urgency=Urgency.HIGH)).name == "anything-for-the-inspector"
    assert policy.rule_for(escalation(notify=None)) is None


def test_steps_and_repeats_are_planned_soonest_first():
    policy = parse(POLICY)
    planned = plan(policy, policy.rules[0])
    assert [(p.step, p.target, p.channel, p.after_seconds) for p in planned] == [
        ("r0s0", "duty-inspector", ChannelKind.PAGERDUTY, 0),
        ("r0s0", "duty-inspector", ChannelKind.WEBHOOK, 0),
        ("r0s1", "deputy", ChannelKind.EMAIL, 300),
        # The second round starts once the last step has waited its ack timeout.
        ("r1s0", "duty-inspector", ChannelKind.PAGERDUTY, 900),
        ("r1s0", "duty-inspector", ChannelKind.WEBHOOK, 900),
        ("r1s1", "deputy", ChannelKind.EMAIL, 1200),
    ]
    assert planned[0].address == "rk-1"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            ("channels: [pagerduty, webhook]", "channels: [pagerduty, pigeon]"),
            "unknown channel pigeon",
        ),
        (("targets: [deputy]", "targets: [nobody]"), "unknown target nobody"),
        (("  pagerduty: {url", "  fax: {url"), "channels.fax: unknown channel fax"),
        (
            ("targets: [deputy], channels: [email]", "targets: [deputy], channels: [webhook]"),
            "target deputy has no webhook address",
        ),
    ],
)
def test_a_policy_naming_what_does_not_exist_is_refused_with_its_name(change, named):
    with pytest.raises(PolicyError, match=named):
        parse(POLICY.replace(*change))


def test_a_step_on_a_channel_the_policy_does_not_configure_is_refused():
    text = POLICY.replace('  pagerduty: {url: "http://pd.example/v2/enqueue"}\n', "")
    with pytest.raises(PolicyError, match="pagerduty"):
        parse(text)


def test_not_yaml_and_a_bad_field_are_refused():
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse("version: [")
    with pytest.raises(PolicyError, match="ack_timeout_seconds"):
        parse(POLICY.replace("ack_timeout_seconds: 600", "ack_timeout_seconds: -1"))
    with pytest.raises(PolicyError, match="member_steps"):
        parse(POLICY + "grouping: {member_steps: [10, 1]}\n")


def test_a_reloaded_policy_that_is_refused_leaves_the_last_good_one(tmp_path):
    from switchboard_notifier.holder import PolicyHolder

    path = tmp_path / "notification.yaml"
    path.write_text(POLICY)
    holder = PolicyHolder.load(path)
    path.write_text(POLICY.replace("targets: [deputy]", "targets: [nobody]"))
    assert holder.maybe_reload() is False
    assert holder.current().version == "t1"
    path.write_text(POLICY.replace("version: t1", "version: t2"))
    assert holder.maybe_reload() is True
    assert holder.current().version == "t2"


def test_a_policy_whose_channel_needs_an_unset_secret_is_refused(tmp_path):
    from switchboard_notifier.holder import PolicyHolder
    from switchboard_notifier.settings import NotifierSettings

    path = tmp_path / "notification.yaml"
    path.write_text(POLICY)
    settings = NotifierSettings(notifier_webhook_secret=None)
    with pytest.raises(PolicyError, match="SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET"):
        PolicyHolder.load(path, accept=settings.check_secrets)
    assert PolicyHolder.load(
        path, accept=NotifierSettings(notifier_webhook_secret="k").check_secrets
    )
