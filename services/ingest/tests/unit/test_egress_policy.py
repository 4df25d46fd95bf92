"""The pull connectors' address policy: internal addresses refused, the metadata service too, DNS answers vetted."""

import ipaddress

import httpx
import pytest

from switchboard_ingest.connectors.egress import (
    EgressPolicy,
    EgressRefused,
    egress_client,
    not_public,
)
from switchboard_ingest.connectors.rss import USER_AGENT
from switchboard_ingest.doors import ConnectorRefusal
from switchboard_ingest.settings import IngestSettings


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback, embedded in IPv6"),
        ("::ffff:169.254.169.254", "link-local, embedded in IPv6"),
        ("::ffff:10.0.0.1", "private, embedded in IPv6"),
        ("2002:a9fe:a9fe::1", "link-local, embedded in IPv6"),  # 6to4 of the metadata address
        ("64:ff9b::a9fe:a9fe", "link-local, embedded in IPv6"),  # NAT64 of it
        ("::7f00:1", "loopback, embedded in IPv6"),  # IPv4-compatible ::127.0.0.1
    ],
)
def test_internal_addresses_are_not_public(address, why):
    assert not_public(ipaddress.ip_address(address)) == why
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert not_public(ipaddress.ip_address(address)) is None
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_allowing_private_networks_still_refuses_the_metadata_service_unless_listed():
    relaxed = EgressPolicy(allow_private=True)
    for allowed in ("127.0.0.1", "10.0.0.5", "::1", "fc00::5", "::ffff:192.168.0.1"):
        assert relaxed.refusal(ipaddress.ip_address(allowed)) is None
    for metadata in ("169.254.169.254", "::ffff:169.254.169.254", "fe80::1", "fd00:ec2::254"):
        assert relaxed.refusal(ipaddress.ip_address(metadata)) is not None
    listed = EgressPolicy(allowed_networks=(ipaddress.ip_network("169.254.169.254/32"),))
    assert listed.refusal(ipaddress.ip_address("169.254.169.254")) is None
    assert listed.refusal(ipaddress.ip_address("169.254.169.253")) == "link-local"


def test_policy_follows_the_settings(tmp_path):
    settings = IngestSettings(
        ingest_state_dir=tmp_path,
        ingest_connector_allowed_networks=["10.2.0.0/16"],
        ingest_connector_max_redirects=2,
    )
    policy = EgressPolicy.from_settings(settings)
    assert policy.allow_private is False  # the default refuses internal addresses
    assert policy.refusal(ipaddress.ip_address("10.2.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("10.3.0.1")) == "private"
    assert policy.max_redirects == 2


async def test_a_host_resolving_to_an_internal_address_is_never_connected_to():
    resolved: list[str] = []

    async def resolver(host, port):
        resolved.append(host)
        return {"news.example.org": ["93.184.216.34", "169.254.169.254"]}.get(host, [])

    policy = EgressPolicy()
    async with egress_client(
        policy, user_agent=USER_AGENT, timeout=httpx.Timeout(5.0), resolver=resolver
    ) as http:
        # One internal answer among public ones refuses the host (rebinding, or a trap).
        with pytest.raises(EgressRefused) as caught:
            await http.get("http://news.example.org/feed.xml")
        assert caught.value.reason is ConnectorRefusal.FORBIDDEN_ADDRESS
        assert "169.254.169.254" in str(caught.value)
        with pytest.raises(EgressRefused):
            await http.get("http://[::ffff:127.0.0.1]:8080/")  # a literal is vetted too
    assert resolved == ["news.example.org"]
