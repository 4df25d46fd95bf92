"""Who may read a service's /metrics: a bearer token, and a listener apart from the API.

Metrics say how busy each queue is, which sources and doors are in use and
when a service was restarted: not for anyone who can reach the API. Each
service can serve them on a port of its own (`SWITCHBOARD_<SERVICE>_METRICS_PORT`,
which a NetworkPolicy or firewall opens to the monitoring system only; the
API port then answers 404 for /metrics) and can require a bearer token
(`SWITCHBOARD_<SERVICE>_METRICS_TOKEN`, Prometheus' `authorization`
credentials) wherever they are served.

The listener is prometheus_client's threaded WSGI server, so a scrape is
answered even while the service's event loop is busy; it renders the
registry and nothing else (no database, no Kafka).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Annotated, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import ThreadingWSGIServer
from pydantic import Field, SecretStr

from switchboard_shared.metrics import render
from switchboard_shared.problems import PROBLEM_CONTENT_TYPE, problem

_log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# A metrics token is a secret shared with Prometheus; shorter ones are guessable.
MIN_TOKEN_CHARS = 16
MetricsToken = Annotated[SecretStr, Field(min_length=MIN_TOKEN_CHARS)]


def bearer_matches(authorization: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries `token` (no token configured: anyone may read)."""
    if token is None:
        return True
    if not authorization:
        return False
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def unauthorised_problem() -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, problem document and headers of a scrape without the metrics token."""
    body = problem(
        401,
        "unauthorized",
        "Metrics token required",
        "Authorization: a bearer token for /metrics is required",
    )
    return 401, body, {"WWW-Authenticate": 'Bearer realm="metrics"'}


def scrape(
    authorization: str | None, token: str | None, registry: CollectorRegistry = REGISTRY
) -> tuple[int, bytes, dict[str, str]]:
    """The answer to GET /metrics wherever it is served: status, body and headers.

    Without the token, a 401 problem document that shows no metric; the body is
    encoded compactly, as the HTTP services encode every problem document.
    """
    if not bearer_matches(authorization, token):
        status, body, headers = unauthorised_problem()
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return status, text.encode(), {"Content-Type": PROBLEM_CONTENT_TYPE, **headers}
    output, content_type = render(registry)
    return 200, output, {"Content-Type": content_type}


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Quiet(WSGIRequestHandler):
    """No access log on stderr: Prometheus scrapes every few seconds."""

    def log_message(self, format: str, *args: Any) -> None:
        return None


class MetricsServer:
    """Serves GET /metrics (and nothing else) on its own address, with an optional token."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.token = token
        self.registry = registry
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 asked for any free port)."""
        return self._server.server_port if self._server else self.requested_port

    def start(self) -> None:
        """Bind now (a port in use fails start-up) and serve in a daemon thread."""
        self._server = make_server(
            self.host, self.requested_port, self._app, ThreadingWSGIServer, handler_class=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != METRICS_PATH:
            return _answer(start_response, 404, problem(404, "http", "Not Found", "only /metrics"))
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _answer(
                start_response,
                405,
                problem(405, "http", "Method Not Allowed", "/metrics: GET only"),
                {"Allow": "GET, HEAD"},
            )
        status, body, headers = scrape(environ.get("HTTP_AUTHORIZATION"), self.token, self.registry)
        start_response(f"{status} {_REASONS[status]}", list(headers.items()))
        return [body]


_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


def _answer(
    start_response: StartResponse,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> list[bytes]:
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", PROBLEM_CONTENT_TYPE), *(headers or {}).items()],
    )
    return [json.dumps(body).encode()]


def metrics_exposure(settings: Any, service: str) -> tuple[MetricsServer | None, str | None]:
    """A service's metrics listener (when it has a port of its own) and the token /metrics wants.

    Read from the service's `<service>_host`, `<service>_metrics_port` and
    `<service>_metrics_token` settings, which every service declares with the
    factories of switchboard_shared.settings. Warns once when neither port nor
    token is set: metrics are then open to anyone who reaches the service
    port, which is for development only.
    """
    host: str = getattr(settings, f"{service}_host")
    port: int | None = getattr(settings, f"{service}_metrics_port")
    token: SecretStr | None = getattr(settings, f"{service}_metrics_token")
    secret = token.get_secret_value() if token is not None else None
    server = MetricsServer(host, port, token=secret) if port is not None else None
    if server is None and secret is None:
        setting = f"SWITCHBOARD_{service.upper()}_METRICS"
        _log.warning(
            f"/metrics is open to anyone who reaches the {service} port (development only): "
            f"set {setting}_PORT or {setting}_TOKEN"
        )
    return server, secret
