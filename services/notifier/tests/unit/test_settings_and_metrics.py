"""Settings come from SWITCHBOARD_NOTIFIER_*; secrets never print; every series starts at zero."""

from prometheus_client import REGISTRY

from switchboard_notifier import metrics
from switchboard_notifier.answers import Outcome
from switchboard_notifier.policy import ChannelKind
from switchboard_notifier.settings import NotifierSettings


def test_settings_are_read_from_the_environment_and_hide_secrets(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_NOTIFIER_WEBHOOK_SECRET", "hush")
    monkeypatch.setenv("SWITCHBOARD_NOTIFIER_PORT", "9105")
    settings = NotifierSettings()
    assert settings.notifier_port == 9105
    assert settings.notifier_webhook_secret.get_secret_value() == "hush"
    assert "hush" not in repr(settings)


def test_every_series_is_exported_at_zero_from_start_up():
    metrics.initialise()
    for channel in ChannelKind:
        for outcome in Outcome:
            value = REGISTRY.get_sample_value(
                "switchboard_notifier_sends_total", {"channel": channel, "outcome": outcome}
            )
            assert value is not None
        assert (
            REGISTRY.get_sample_value(
                "switchboard_notifier_channel_consecutive_failures", {"channel": channel}
            )
            == 0
        )
    assert (
        REGISTRY.get_sample_value("switchboard_notifier_suppressed_total", {"reason": "same_wave"})
        is not None
    )
