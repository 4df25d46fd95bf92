"""Pull connectors: sources ingest fetches from rather than waits for.

Owns which connectors the settings enable; each connector module owns its
protocol, its mapping to canonical mentions and its durable cursor.
"""

from __future__ import annotations

from typing import Protocol

from switchboard_ingest.connectors.cursor import CursorStore
from switchboard_ingest.connectors.egress import EgressPolicy
from switchboard_ingest.connectors.mastodon import MastodonConnector
from switchboard_ingest.connectors.rss import RssConnector, rss_connector_names
from switchboard_ingest.intake import Intake
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.ratelimit import Limit


class Connector(Protocol):
    """A pull connector: runs until cancelled, handling its own errors and back-off."""

    name: str

    async def run(self) -> None:
        """Fetch and submit until cancelled."""


def build_connectors(settings: IngestSettings, intake: Intake) -> list[Connector]:
    """The connectors the settings enable: one per feed, and Mastodon when configured."""
    store = CursorStore(settings.ingest_state_dir)
    policy = EgressPolicy.from_settings(settings)
    # Each connector paces itself: one loud feed cannot crowd out the API doors.
    pace = Limit(settings.ingest_connector_rate_per_second, settings.ingest_connector_burst)
    feeds = list(dict.fromkeys(settings.ingest_rss_feeds))  # a feed listed twice is polled once
    connectors: list[Connector] = [
        RssConnector(
            name=name,
            feed_url=url,
            intake=intake,
            store=store,
            poll_seconds=settings.ingest_rss_poll_seconds,
            policy=policy,
            pace=pace,
        )
        for url, name in zip(feeds, rss_connector_names(feeds), strict=True)
    ]
    if settings.ingest_mastodon_base_url and settings.ingest_mastodon_hashtag:
        token = settings.ingest_mastodon_access_token
        connectors.append(
            MastodonConnector(
                base_url=settings.ingest_mastodon_base_url,
                hashtag=settings.ingest_mastodon_hashtag,
                intake=intake,
                store=store,
                access_token=token.get_secret_value() if token else None,
                policy=policy,
                pace=pace,
            )
        )
    return connectors
