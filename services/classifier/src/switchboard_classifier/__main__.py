"""`python -m switchboard_classifier`: read settings once, create topics, run the worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import faust
from switchboard_shared.kafka import ensure_topics, wait_for_kafka
from switchboard_shared.logs import configure_logging
from switchboard_shared.topics import ALL

from switchboard_classifier.app import create_app
from switchboard_classifier.rules import Ruleset
from switchboard_classifier.settings import ClassifierSettings


def main() -> None:
    """Start the classifier worker and block until it stops."""
    settings = ClassifierSettings()
    configure_logging("classifier", settings.log_level)
    ruleset = Ruleset.load(settings.classifier_ruleset_path)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if settings.create_topics:
        loop.run_until_complete(wait_for_kafka(settings, timeout_seconds=120))
        loop.run_until_complete(ensure_topics(settings, ALL))
    app, _ = create_app(settings, ruleset)
    worker = faust.Worker(app, loop=loop, loglevel=settings.log_level.lower())

    def relog(app: faust.App, **kwargs: object) -> None:
        # faust installs its own log handlers; put ours back so every service logs alike.
        configure_logging("classifier", settings.log_level)

    app.on_worker_init.connect(cast(Any, relog))
    logging.getLogger(__name__).info("classifier starting with rule set %s", ruleset.version)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
