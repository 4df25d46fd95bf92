"""`python -m switchboard_router`: read settings once, migrate, serve and consume."""

from __future__ import annotations

import uvicorn

from switchboard_router import store
from switchboard_router.app import create_app
from switchboard_router.routing import Policy
from switchboard_router.settings import RouterSettings
from switchboard_shared.logs import configure_logging


def main() -> None:
    """Migrate the store, then serve the API and consume until stopped."""
    settings = RouterSettings()
    configure_logging("router", settings.log_level)
    policy = Policy.load(settings.router_policy_path)
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    uvicorn.run(
        create_app(settings, engine, policy),
        host=settings.router_host,
        port=settings.router_port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
