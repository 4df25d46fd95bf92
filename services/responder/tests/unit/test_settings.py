"""Channel settings: a bad channel stops start-up with an error naming the field."""

import json

import pytest
from pydantic import ValidationError

from switchboard_responder.settings import ResponderSettings
from switchboard_shared.events import Source

GOOD = {
    "x": {"base_url": "https://api.x.com", "token": "x-secret-token"},
    "mastodon": {"base_url": "https://social.example/", "token": "m-secret", "max_chars": 500},
    "facebook": {"base_url": "https://graph.facebook.com", "token": "page-token"},
}


def load(monkeypatch, channels):
    monkeypatch.setenv("SWITCHBOARD_RESPONDER_CHANNELS", json.dumps(channels))
    return ResponderSettings()


def test_channels_are_read_from_one_json_variable(monkeypatch):
    settings = load(monkeypatch, GOOD)
    assert set(settings.responder_channels) == {Source.X, Source.MASTODON, Source.FACEBOOK}
    mastodon = settings.responder_channels[Source.MASTODON]
    assert mastodon.base_url == "https://social.example"
    assert mastodon.token.get_secret_value() == "m-secret"
    assert "m-secret" not in repr(settings)


def test_a_channel_for_a_source_no_platform_answers_is_refused_by_name(monkeypatch):
    with pytest.raises(ValidationError, match=r"SWITCHBOARD_RESPONDER_CHANNELS\.rss"):
        load(monkeypatch, {"rss": {"base_url": "https://feed.example", "token": "t"}})


def test_a_mastodon_channel_needs_its_character_limit(monkeypatch):
    channels = {"mastodon": {"base_url": "https://social.example", "token": "t"}}
    with pytest.raises(ValidationError, match=r"CHANNELS\.mastodon\.max_chars"):
        load(monkeypatch, channels)


@pytest.mark.parametrize(
    ("channel", "field"),
    [
        ({"base_url": "ftp://api.x.com", "token": "t"}, "base_url"),
        ({"base_url": "https://api.x.com", "token": ""}, "token"),
        ({"base_url": "https://api.x.com"}, "token"),
        ({"base_url": "https://api.x.com", "token": "t", "tokn": "typo"}, "tokn"),
        ({"base_url": "https://api.x.com", "token": "t", "max_chars": 0}, "max_chars"),
    ],
)
def test_a_bad_channel_field_is_named_and_its_value_never_echoed(monkeypatch, channel, field):
    with pytest.raises(ValidationError) as raised:
        load(monkeypatch, {"x": channel})
    message = str(raised.value)
    assert f"responder_channels.x.{field}" in message
    assert "typo" not in message


def test_an_unknown_source_is_refused_by_name(monkeypatch):
    with pytest.raises(ValidationError, match=r"responder_channels\.myspace"):
        load(monkeypatch, {"myspace": {"base_url": "https://m.example", "token": "t"}})


def test_no_channels_is_a_valid_start(monkeypatch):
    monkeypatch.delenv("SWITCHBOARD_RESPONDER_CHANNELS", raising=False)
    assert ResponderSettings().responder_channels == {}
