"""The platforms' HTTP edge: one request per send, turned into an `Answer` or a `LostAnswer`.

Request shapes are the platforms' own: X API v2 `POST /2/tweets`, Mastodon
`POST /api/v1/statuses` with `Idempotency-Key: <reply_id>` (the same key for
every resend and every attempt, so the instance keeps one status), and Meta
Graph `POST /v19.0/{comment-id}/comments`. Nothing here decides what an
answer means (`answers.judge` does) and nothing logs the reply's text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from switchboard_responder.answers import Answer, LostAnswer
from switchboard_responder.platforms import Platform
from switchboard_responder.settings import ChannelSettings

META_GRAPH_VERSION = "v19.0"


class Sender:
    """Posts replies for one channel with one pooled HTTP client."""

    def __init__(
        self,
        platform: Platform,
        channel: ChannelSettings,
        *,
        request_timeout_seconds: float,
        connect_timeout_seconds: float,
    ) -> None:
        self.platform = platform
        self._client = httpx.AsyncClient(
            base_url=channel.base_url,
            headers={
                "Authorization": f"Bearer {channel.token.get_secret_value()}",
                "User-Agent": "switchboard-responder/0.1",
            },
            timeout=httpx.Timeout(request_timeout_seconds, connect=connect_timeout_seconds),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    def _request(self, *, reply_id: str, in_reply_to: str, text: str) -> httpx.Request:
        if self.platform is Platform.X:
            body = {"text": text, "reply": {"in_reply_to_tweet_id": in_reply_to}}
            return self._client.build_request("POST", "/2/tweets", json=body)
        if self.platform is Platform.MASTODON:
            return self._client.build_request(
                "POST",
                "/api/v1/statuses",
                json={"status": text, "in_reply_to_id": in_reply_to},
                headers={"Idempotency-Key": reply_id},
            )
        path = f"/{META_GRAPH_VERSION}/{quote(in_reply_to, safe='_')}/comments"
        return self._client.build_request("POST", path, data={"message": text})

    async def send(self, *, reply_id: str, in_reply_to: str, text: str) -> Answer | LostAnswer:
        """Make the request once; never raises for a transport failure."""
        request = self._request(reply_id=reply_id, in_reply_to=in_reply_to, text=text)
        try:
            response = await self._client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            return LostAnswer.NOT_SENT
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            return LostAnswer.TIMED_OUT
        except httpx.TransportError:
            # Read or write errors, a connection closed mid-answer: the request may be in.
            return LostAnswer.DROPPED
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(status=response.status_code, headers=headers, body=_json(response))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
