"""`python -m switchboard_router`: read settings once, migrate, bootstrap the
admin token if one is configured (a changed one revokes the previous), then
serve and consume."""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard_router.bootstrap import create_app
from switchboard_router.db.engine import make_engine, migrate
from switchboard_router.people import service as people
from switchboard_router.routing.holder import PolicyHolder
from switchboard_router.settings import RouterSettings
from switchboard_shared.logs import configure_logging
from switchboard_web.serve import serve


def main() -> None:
    """Migrate the store, then serve the API and consume until stopped."""
    settings = RouterSettings()
    configure_logging("router", settings.log_level)
    policies = PolicyHolder.load(settings.router_policy_path)
    engine = make_engine(settings.database_url)
    migrate(engine)
    if settings.router_bootstrap_admin_token is not None:
        try:
            people.ensure_admin(
                engine,
                token=settings.router_bootstrap_admin_token.get_secret_value(),
                now=datetime.now(UTC),
            )
        except people.RevokedBootstrapToken as exc:
            raise SystemExit(f"router: {exc}") from exc
    serve(
        create_app(settings, engine, policies), host=settings.router_host, port=settings.router_port
    )


if __name__ == "__main__":
    main()
