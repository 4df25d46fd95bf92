"""Pull connectors: sources ingest fetches from rather than waits for."""

from __future__ import annotations

from typing import Protocol

from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings


class Connector(Protocol):
    """A pull connector: runs until cancelled, handling its own errors and back-off."""

    name: str

    async def run(self) -> None:
        """Fetch and submit until cancelled."""


def build_connectors(settings: IngestSettings, intake: Intake) -> list[Connector]:
    """The connectors the settings enable."""
    return []
