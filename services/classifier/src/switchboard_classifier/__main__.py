"""`python -m switchboard_classifier`: read settings once, create topics, run the worker."""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import replace

import faust

from switchboard_classifier.app import create_app
from switchboard_classifier.reload import Reloader, Sources
from switchboard_classifier.settings import ClassifierSettings
from switchboard_shared.kafka import ensure_topics, wait_for_kafka
from switchboard_shared.logs import configure_logging
from switchboard_shared.metrics_server import metrics_exposure
from switchboard_shared.topics import ALL


def start_reloader(role: str, sources: Sources, interval: float) -> Reloader:
    """The reloader of the live or shadow classifier; stop the process, saying why, if unusable.

    At start-up there is no last good classifier to keep: an unusable rule
    set or model (unreadable, tampered, wrong format) stops the process with
    what is wrong and where, instead of a stream that classifies with nothing.
    """
    try:
        return Reloader(sources, interval=interval)
    except Exception as exc:  # unreadable bytes can fail a loader in unforeseen ways
        where = f"model {sources.model or '(shipped)'}, rule set {sources.ruleset or '(shipped)'}"
        reason = f"the {role} classifier ({where}) does not load: {type(exc).__name__}: {exc}"
        logging.getLogger(__name__).critical("classifier cannot start: %s", reason)
        raise SystemExit(f"classifier cannot start: {reason}") from None


def main() -> None:
    """Start the classifier worker and block until it stops."""
    settings = ClassifierSettings()
    configure_logging("classifier", settings.log_level)
    sources = Sources(
        ruleset=settings.classifier_ruleset_path,
        model=settings.classifier_model_path,
        gazetteer=settings.classifier_gazetteer_path,
        districts=settings.classifier_districts_path,
        use_model=settings.classifier_use_model,
    )
    reloader = start_reloader("live", sources, settings.classifier_reload_seconds)
    shadow = None
    if settings.classifier_shadow_model_path is not None:
        shadow_sources = replace(
            sources, model=settings.classifier_shadow_model_path, use_model=True
        )
        shadow = start_reloader("shadow", shadow_sources, settings.classifier_reload_seconds)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if settings.create_topics:
        loop.run_until_complete(wait_for_kafka(settings, timeout_seconds=120))
        loop.run_until_complete(ensure_topics(settings, ALL))
    # faust creates its own folder inside, but not the parents.
    settings.classifier_data_dir.mkdir(parents=True, exist_ok=True)
    app, _ = create_app(settings, reloader, shadow)
    metrics_server, _ = metrics_exposure(settings, "classifier")
    if metrics_server is not None:
        metrics_server.start()  # before the worker: a port in use stops start-up here
    # override_logging=False keeps our log format, so every service logs alike.
    worker = faust.Worker(
        app, loop=loop, loglevel=settings.log_level.lower(), override_logging=False
    )

    logging.getLogger(__name__).info("classifier starting with %s", reloader.current.versions)
    # What was loaded at start-up (rules, model, libraries) lives as long as the
    # process: keep the cycle collector from walking it again at every batch.
    gc.freeze()
    try:
        worker.execute_from_commandline()
    finally:
        if metrics_server is not None:
            metrics_server.stop()


if __name__ == "__main__":
    main()
