"""Running an HTTP service's app until stopped, the same way for every service."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from switchboard_shared.logs import UVICORN_LOGGING


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve `app` on host:port until stopped, its logs going through the service's own setup."""
    uvicorn.run(app, host=host, port=port, **UVICORN_LOGGING)
