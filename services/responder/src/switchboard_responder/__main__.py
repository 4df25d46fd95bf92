"""`python -m switchboard_responder`: read settings once, create the ledger table, then
consume reply requests and serve /healthz, /readyz and /metrics."""

from __future__ import annotations

import logging

from switchboard_responder.app import create_app
from switchboard_responder.ledger import create_schema
from switchboard_responder.settings import ResponderSettings
from switchboard_shared.database import make_engine
from switchboard_shared.logs import configure_logging
from switchboard_web.serve import serve


def main() -> None:
    """Consume and post until stopped."""
    settings = ResponderSettings()
    configure_logging("responder", settings.log_level)
    # httpx logs every request at INFO; the responder's own line per attempt says more.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    serve(create_app(settings, engine), host=settings.responder_host, port=settings.responder_port)


if __name__ == "__main__":
    main()
