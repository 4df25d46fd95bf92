"""Common settings: where an empty variable means unset."""

from switchboard_shared.settings import CommonSettings, EmptyIsUnsetSettings


class WithAnOptionalSecret(EmptyIsUnsetSettings):
    thing_secret: str | None = None


class WithAnOptionalSecretKeptEmpty(CommonSettings):
    thing_secret: str | None = None


def test_an_empty_variable_is_unset_where_the_service_asks_for_it(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_THING_SECRET", "")

    assert WithAnOptionalSecret().thing_secret is None
    assert WithAnOptionalSecretKeptEmpty().thing_secret == ""


def test_empty_is_unset_settings_keep_the_common_configuration():
    common = {**CommonSettings.model_config, "env_ignore_empty": True}

    assert WithAnOptionalSecret.model_config == common
