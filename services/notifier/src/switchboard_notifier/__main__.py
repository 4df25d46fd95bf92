"""`python -m switchboard_notifier`: read settings and the policy once, create the tables,
then consume escalations, send what is due and serve /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging

from switchboard_notifier.app import create_app
from switchboard_notifier.holder import PolicyHolder
from switchboard_notifier.settings import NotifierSettings
from switchboard_notifier.store import create_schema
from switchboard_shared.database import make_engine
from switchboard_shared.logs import configure_logging
from switchboard_web.serve import serve


def main() -> None:
    """Consume and notify until stopped."""
    settings = NotifierSettings()
    configure_logging("notifier", settings.log_level)
    # httpx logs every request at INFO; the notifier's own line per try says more.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    policy = PolicyHolder.load(settings.notifier_policy_path, accept=settings.check_secrets)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    serve(
        create_app(settings, engine, policy),
        host=settings.notifier_host,
        port=settings.notifier_port,
    )


if __name__ == "__main__":
    main()
