"""The README documents what the code really has."""

from pathlib import Path

import pytest

from switchboard_classifier.settings import ClassifierSettings
from switchboard_ingest.settings import IngestSettings
from switchboard_notifier.settings import NotifierSettings
from switchboard_responder.settings import ResponderSettings
from switchboard_router.settings import RouterSettings
from switchboard_shared.settings import ENV_PREFIX
from switchboard_shared.topics import ALL

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SETTINGS = (IngestSettings, ClassifierSettings, RouterSettings, ResponderSettings, NotifierSettings)


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: s.__name__)
def test_every_setting_is_documented_in_the_readme(settings):
    missing = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in settings.model_fields
        if f"`{ENV_PREFIX}{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_topic_is_in_the_readme_topic_table_with_its_partitions():
    for spec in ALL:
        assert f"| `{spec.base_name}` | {spec.partitions} |" in README


def test_the_readme_starts_with_the_two_commands():
    head = README[: README.index("## Architecture")]
    assert "make run" in head and "make test" in head
    assert "make test" in (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
