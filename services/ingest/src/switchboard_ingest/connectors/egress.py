"""Outbound HTTP of the pull connectors: which addresses they may reach, how far they follow, how much they read.

A feed or instance URL comes from configuration, but where it leads does not:
a redirect, or a DNS answer, can point at the cloud metadata service or an
internal address (blind SSRF). So every connection is vetted when it is made:
the host is resolved once, every address it resolves to is checked against the
policy, and the socket is opened to the vetted address itself, so a second DNS
answer (rebinding) never reaches the socket. TLS still verifies the host name.
Redirects are followed here one hop at a time, up to a cap, and each hop's
connection is vetted in turn; bodies and stream lines are read up to a cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from switchboard_ingest.doors import ConnectorRefusal
from switchboard_ingest.settings import IngestSettings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the addresses to try, in order (the system resolver unless a test injects one).
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Where cloud metadata services answer (169.254.169.254, AWS's fd00:ec2::254):
# refused even when private networks are allowed, unless listed explicitly.
_METADATA = (
    ipaddress.IPv4Network("169.254.0.0/16"),
    ipaddress.IPv6Network("fe80::/10"),
    ipaddress.IPv6Network("fd00:ec2::254/128"),
)
_ALLOW_HINT = (
    "set SWITCHBOARD_INGEST_CONNECTOR_ALLOWED_NETWORKS (or, for local stand-ins, "
    "SWITCHBOARD_INGEST_CONNECTOR_ALLOW_PRIVATE_NETWORKS) to allow it"
)


class EgressRefused(Exception):
    """A fetch a connector refused or cut off: forbidden address, redirects, oversized body or line."""

    def __init__(self, reason: ConnectorRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _within(address: IpAddress, networks: Iterable[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _is_metadata(address: IpAddress) -> bool:
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return _within(address, _METADATA) or (embedded is not None and _within(embedded, _METADATA))


def not_public(address: IpAddress) -> str | None:
    """Why `address` is not a public unicast address (None when it is one)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = not_public(embedded)
            return f"{why}, embedded in IPv6" if why else None
    for why, test in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if test:
            return why
    # What is left and still not global: shared address space (100.64/10) and the like.
    return None if address.is_global else "not globally routable"


@dataclass(frozen=True)
class EgressPolicy:
    """Where pull connectors may connect, and how much they follow and read."""

    allow_private: bool = False
    allowed_networks: tuple[IpNetwork, ...] = ()
    max_redirects: int = 5
    max_body_bytes: int = 8 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> EgressPolicy:
        """The policy the ingest settings describe."""
        return cls(
            allow_private=settings.ingest_connector_allow_private_networks,
            allowed_networks=tuple(settings.ingest_connector_allowed_networks),
            max_redirects=settings.ingest_connector_max_redirects,
            max_body_bytes=settings.ingest_connector_max_body_bytes,
            max_line_bytes=settings.ingest_connector_max_line_bytes,
        )

    def refusal(self, address: IpAddress) -> str | None:
        """Why a connection to `address` is refused (None when it is allowed)."""
        if _within(address, self.allowed_networks):
            return None
        why = not_public(address)
        if why is None or (self.allow_private and not _is_metadata(address)):
            return None
        return why


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the system resolver's order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parse_address(text: str) -> IpAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, vets every address, then connects to a vetted address (never the name again)."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface, not ours)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            _parse_address(host)
            answers = [host]
        except ValueError:
            try:
                answers = await asyncio.wait_for(self._resolver(host, port), timeout)
            except (OSError, TimeoutError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not answers:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for answer in answers:
            address = _parse_address(answer)
            # One forbidden answer refuses the host: a name that mixes public and
            # internal answers is a rebinding attempt or a misconfiguration.
            why = self._policy.refusal(address)
            if why is not None:
                raise EgressRefused(
                    ConnectorRefusal.FORBIDDEN_ADDRESS,
                    f"refused to connect to {host} at {address} ({why}); {_ALLOW_HINT}",
                )
        last: Exception | None = None
        for answer in answers:
            try:
                return await self._backend.connect_tcp(
                    answer,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface, not ours)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise EgressRefused(ConnectorRefusal.FORBIDDEN_ADDRESS, "unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with every TCP connection made by `_VettedBackend`; never through a proxy."""

    def __init__(self, policy: EgressPolicy, resolver: Resolver = system_resolver) -> None:
        super().__init__(trust_env=False)
        # httpx does not take a network backend, so its pool is rebuilt with one
        # (httpx is pinned; tests/.../test_connector_egress.py fails if this stops working).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_VettedBackend(policy, resolver),
        )


def egress_client(
    policy: EgressPolicy,
    *,
    user_agent: str,
    timeout: httpx.Timeout,
    resolver: Resolver = system_resolver,
) -> httpx.AsyncClient:
    """An HTTP client whose every connection obeys `policy` (redirects are followed by `open_response`)."""
    return httpx.AsyncClient(
        transport=VettedTransport(policy, resolver),
        headers={"User-Agent": user_agent},
        timeout=timeout,
        follow_redirects=False,
    )


@contextlib.asynccontextmanager
async def open_response(
    http: httpx.AsyncClient,
    url: str,
    *,
    policy: EgressPolicy,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    timeouts: httpx.Timeout | None = None,
) -> AsyncIterator[httpx.Response]:
    """GET `url`, following at most `policy.max_redirects` redirects; the body is left unread."""
    request = http.build_request(
        "GET",
        url,
        headers=headers,
        params=params,
        timeout=httpx.USE_CLIENT_DEFAULT if timeouts is None else timeouts,
    )
    for _hop in range(policy.max_redirects + 1):
        response = await http.send(request, stream=True, follow_redirects=False)
        # httpx builds the next hop (relative Location, credentials dropped across
        # origins) without following it; its connection is vetted like the first.
        next_request = response.next_request
        if next_request is None:
            try:
                yield response
            finally:
                await response.aclose()
            return
        await response.aclose()
        if next_request.url.scheme not in ("http", "https"):
            raise EgressRefused(
                ConnectorRefusal.BAD_REDIRECT,
                f"{request.url.host} redirects to a {next_request.url.scheme!r} URL",
            )
        request = next_request
    raise EgressRefused(
        ConnectorRefusal.TOO_MANY_REDIRECTS,
        f"more than {policy.max_redirects} redirects from {url}",
    )


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body of a streamed response; EgressRefused as soon as it passes `limit` bytes."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise EgressRefused(
            ConnectorRefusal.BODY_TOO_LARGE,
            f"body of {response.url.host} declares {declared} bytes; at most {limit} are read",
        )
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise EgressRefused(
                ConnectorRefusal.BODY_TOO_LARGE,
                f"body of {response.url.host} is larger than {limit} bytes; stopped reading",
            )
    return bytes(body)
