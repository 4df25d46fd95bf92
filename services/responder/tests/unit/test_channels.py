"""A channel holds its sends while its credentials are refused, and lets one probe through."""

import asyncio

from pydantic import SecretStr

from switchboard_responder.answers import Decision, Verdict
from switchboard_responder.channels import Channel
from switchboard_responder.platforms import Platform
from switchboard_responder.senders import Sender
from switchboard_responder.settings import ChannelSettings

CONFIG = ChannelSettings(base_url="http://127.0.0.1:9", token=SecretStr("t"), max_chars=500)
REFUSED = Decision(Verdict.AUTH_ERROR, maybe_posted=False, http_status=401)
ACCEPTED = Decision(Verdict.SENT, maybe_posted=True, http_status=200, platform_post_id="1")


def channel(auth_retry_seconds):
    sender = Sender(Platform.MASTODON, CONFIG, request_timeout_seconds=1, connect_timeout_seconds=1)
    return Channel(
        "unit-test-mastodon",
        Platform.MASTODON,
        CONFIG,
        sender,
        auth_retry_seconds=auth_retry_seconds,
    )


async def test_a_healthy_channel_lets_sends_through_at_once():
    assert await asyncio.wait_for(channel(60).turn(), 1) is False


async def test_refused_credentials_hold_every_send_until_the_probe_time():
    held = channel(auth_retry_seconds=60)
    held.answered(REFUSED, probe=False)
    assert held.auth_error
    waiting = asyncio.create_task(held.turn())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    waiting.cancel()


async def test_one_send_probes_and_an_accepted_probe_releases_the_others():
    held = channel(auth_retry_seconds=0.1)
    held.answered(REFUSED, probe=False)
    probe = await asyncio.wait_for(held.turn(), 2)
    assert probe is True
    other = asyncio.create_task(held.turn())
    await asyncio.sleep(0.3)
    assert not other.done()  # one probe at a time
    held.answered(ACCEPTED, probe=True)
    assert await asyncio.wait_for(other, 2) is False
    assert not held.auth_error


async def test_a_refused_probe_keeps_the_channel_held():
    held = channel(auth_retry_seconds=0.1)
    held.answered(REFUSED, probe=False)
    assert await asyncio.wait_for(held.turn(), 2) is True
    held.answered(REFUSED, probe=True)
    assert held.auth_error
    assert await asyncio.wait_for(held.turn(), 2) is True  # the next probe, a period later
