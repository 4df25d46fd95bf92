"""`python -m switchboard_ingest`: read settings once and serve the API."""

from __future__ import annotations

import sys

from switchboard_ingest.app import create_app
from switchboard_ingest.auth import KeyFileError
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.logs import configure_logging
from switchboard_web.serve import serve


def main() -> None:
    """Serve the ingest API until stopped."""
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level)
    try:
        app = create_app(settings)
    except KeyFileError as exc:
        # Fail closed: no usable keys, no intake.
        sys.exit(f"switchboard-ingest: refusing to start: {exc}")
    serve(app, host=settings.ingest_host, port=settings.ingest_port)


if __name__ == "__main__":
    main()
