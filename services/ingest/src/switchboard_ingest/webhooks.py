"""Platform webhooks (X account activity, Meta): verified before anything is accepted.

This module owns the webhook doors: each is enabled by its secret in the
settings, answers the platform's handshake, checks the signature over the raw
body before reading it, and hands every mention to `Intake.submit` and every
item it cannot map to `Intake.dead_letter`. A delivery is answered 200 only
once Kafka has acknowledged all of it, and 503 otherwise: platforms redeliver,
and duplicate detection makes redelivery safe. Payload shapes and signatures
are `platforms.py`'s business.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, SecretStr

from switchboard_ingest import metrics, platforms
from switchboard_ingest.doors import META, UNKNOWN_SOURCE, Door, LimitedDoor, Rejection
from switchboard_ingest.http import (
    IntakeDep,
    SettingsDep,
    invalid_request,
    read_body,
    timed,
    unavailable,
)
from switchboard_ingest.intake import Intake, Outcome, Result
from switchboard_ingest.limits import Limits, LimitsDep
from switchboard_ingest.platforms import Mapped
from switchboard_ingest.publisher import Ack, KafkaUnavailable
from switchboard_ingest.settings import IngestSettings
from switchboard_shared.events import DeadLetterReason, Source
from switchboard_shared.identity import mention_id_for
from switchboard_shared.logs import fields
from switchboard_shared.problems import ProblemError

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

X_ROUTE = "/v1/webhooks/x"
META_ROUTE = "/v1/webhooks/meta"


class DeliveryResult(BaseModel):
    """What became of a verified delivery: counts, and the ids of the mentions Kafka has."""

    accepted: int
    duplicates: int
    dead_lettered: int
    ignored: int
    mention_ids: list[str]


def _enabled(secret: SecretStr | None, route: str, setting: str) -> str:
    """The secret of a webhook, or 404 when it is not configured (the door does not exist)."""
    if secret is None:
        raise ProblemError(
            404,
            "not-found",
            "Webhook not enabled",
            f"{route} is not enabled on this deployment (set SWITCHBOARD_{setting.upper()})",
        )
    return secret.get_secret_value()


def _missing_parameter(name: str) -> ProblemError:
    return invalid_request(name, "query parameter is required", kind="missing")


def _bad_signature(source: str, header: str, present: bool) -> ProblemError:
    metrics.REJECTED.labels(Rejection.BAD_SIGNATURE, source).inc()
    what = "does not match the body" if present else "is missing"
    return ProblemError(
        401,
        "bad-signature",
        "Bad signature",
        f"{header} {what}; nothing was accepted",
    )


@dataclass(frozen=True)
class _Signed:
    """How a platform signs deliveries: the header, the HMAC, and the source a bad one counts under."""

    source: str
    header: str
    sign: Callable[[str, bytes], str]

    async def body(self, request: Request, settings: IngestSettings, secret: str) -> bytes:
        """The raw body, once the signature over it checks; 401 otherwise."""
        body = await read_body(request, settings, require_json=False)
        presented = request.headers.get(self.header)
        if not platforms.same_secret(self.sign(secret, body), presented):
            raise _bad_signature(self.source, self.header, presented is not None)
        return body


@dataclass(frozen=True)
class _Webhook:
    """A platform's webhook: its route, the setting holding its secret, how deliveries
    are signed and mapped, and the doors a delivery is limited and counted as."""

    route: str
    setting: str
    signed: _Signed
    limited: LimitedDoor
    mapper: Callable[[Any], Mapped]
    unmapped_source: str  # what a body that is not JSON is dead-lettered as
    via: Door

    def secret(self, settings: IngestSettings) -> str:
        """The webhook's secret, or 404 when it is not configured."""
        return _enabled(getattr(settings, self.setting), self.route, self.setting)

    async def receive(
        self,
        request: Request,
        intake: Intake,
        settings: IngestSettings,
        limits: Limits,
        refuse: Callable[[bytes], None] | None = None,
    ) -> JSONResponse:
        """A delivery: its signature checked (then `refuse` may still refuse the body),
        charged to the webhook's rate, mapped and handed to intake."""
        async with timed(self.route):
            body = await self.signed.body(request, settings, self.secret(settings))
            if refuse is not None:
                refuse(body)
            limits.charge_webhook(self.signed.source, door=self.limited)
            mapped = _map(body, self.mapper, source=self.unmapped_source)
            return await _deliver(mapped, intake, settings, via=self.via)


X_WEBHOOK = _Webhook(
    route=X_ROUTE,
    setting="ingest_x_consumer_secret",
    signed=_Signed(Source.X, platforms.X_SIGNATURE_HEADER, platforms.x_signature),
    limited=LimitedDoor.WEBHOOK_X,
    mapper=platforms.map_x_payload,
    unmapped_source=Source.X,
    via=Door.WEBHOOK_X,
)
META_WEBHOOK = _Webhook(
    route=META_ROUTE,
    setting="ingest_meta_app_secret",
    # Meta's payload says whether it is Facebook or Instagram, but an unverified
    # payload is not read at all: a bad signature counts as Meta's.
    signed=_Signed(META, platforms.META_SIGNATURE_HEADER, platforms.meta_signature),
    limited=LimitedDoor.WEBHOOK_META,
    mapper=platforms.map_meta_payload,
    unmapped_source=UNKNOWN_SOURCE,
    via=Door.WEBHOOK_META,
)


# --- X ----------------------------------------------------------------------


@router.get(X_ROUTE, summary="Answer X's challenge-response check (CRC)")
async def x_crc(
    request: Request,
    settings: SettingsDep,
    limits: LimitsDep,
    crc_token: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    """The HMAC of `crc_token` under the consumer secret, proving this endpoint holds it.

    Only for a token shaped like X's (see `platforms.X_CRC_TOKEN`): this HMAC
    is also a delivery's signature, so signing anything else would sign forgeries.
    """
    secret = X_WEBHOOK.secret(settings)
    limits.charge_handshake(request, door=LimitedDoor.X_CRC)
    # Checked here rather than by FastAPI so a disabled webhook answers 404 first.
    if not crc_token:
        raise _missing_parameter("crc_token")
    if not platforms.is_x_crc_token(crc_token):
        metrics.REJECTED.labels(Rejection.INVALID, UNKNOWN_SOURCE).inc()
        message = (
            f"at most {platforms.X_CRC_TOKEN_MAX_CHARS} characters of A-Z a-z 0-9 _ - = + / "
            "(an X CRC token); nothing else is signed"
        )
        raise invalid_request("crc_token", message)
    return JSONResponse({"response_token": platforms.x_crc_response_token(secret, crc_token)})


@router.post(X_ROUTE, summary="Receive X account activity", response_model=DeliveryResult)
async def x_events(
    request: Request, intake: IntakeDep, settings: SettingsDep, limits: LimitsDep
) -> JSONResponse:
    """Verify the signature, then submit each created tweet; 200 once Kafka has all of it."""
    return await X_WEBHOOK.receive(request, intake, settings, limits, refuse=_crc_shaped)


def _crc_shaped(body: bytes) -> None:
    """401 for a body shaped like a CRC token."""
    if platforms.is_x_crc_token(body):
        # The CRC endpoint signs exactly such strings for anyone: this
        # signature proves nothing about who sent the body.
        metrics.REJECTED.labels(Rejection.BAD_SIGNATURE, Source.X).inc()
        raise ProblemError(
            401,
            "bad-signature",
            "Bad signature",
            "(body): has the shape of a CRC token, whose signature anyone can obtain from "
            "the CRC endpoint; a delivery is a JSON object; nothing was accepted",
        )


# --- Meta -------------------------------------------------------------------


@router.get(META_ROUTE, summary="Answer Meta's subscription handshake")
async def meta_handshake(
    request: Request,
    settings: SettingsDep,
    limits: LimitsDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.verify_token` is ours; 403 otherwise."""
    META_WEBHOOK.secret(settings)
    # Limited per address: the verify token must not be open to guessing at speed.
    limits.charge_handshake(request, door=LimitedDoor.META_HANDSHAKE)
    if not challenge:
        raise _missing_parameter("hub.challenge")
    expected = settings.ingest_meta_verify_token
    if (
        mode != "subscribe"
        or expected is None
        or not platforms.same_secret(expected.get_secret_value(), verify_token)
    ):
        metrics.REJECTED.labels(Rejection.BAD_VERIFY_TOKEN, META).inc()
        raise ProblemError(
            403,
            "forbidden",
            "Handshake refused",
            "hub.mode must be 'subscribe' and hub.verify_token must be this deployment's token",
        )
    # nosniff: the echoed challenge is caller-chosen text and must stay text.
    return PlainTextResponse(challenge, headers={"X-Content-Type-Options": "nosniff"})


@router.post(
    META_ROUTE, summary="Receive Meta (Page feed, Instagram) changes", response_model=DeliveryResult
)
async def meta_events(
    request: Request, intake: IntakeDep, settings: SettingsDep, limits: LimitsDep
) -> JSONResponse:
    """Verify the signature, then submit each added post or comment; 200 once Kafka has all of it."""
    return await META_WEBHOOK.receive(request, intake, settings, limits)


# --- shared -----------------------------------------------------------------


def _map(body: bytes, mapper: Callable[[Any], Mapped], *, source: str) -> Mapped:
    """What a verified body yields; a body that is not JSON is dead-lettered whole, never retried."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        error = f"(body): not JSON: {exc}"
        raw = body.decode("utf-8", errors="replace")
        return Mapped(unmappable=[platforms.Unmappable(source, error, raw)])
    return mapper(payload)


async def _deliver(
    mapped: Mapped, intake: Intake, settings: IngestSettings, *, via: str
) -> JSONResponse:
    """Submit every mention and dead-letter every unmappable item; 503 if Kafka missed any."""
    writes: list[Awaitable[Result | Ack]] = [intake.submit(m, via=via) for m in mapped.mentions]
    writes += [
        intake.dead_letter(
            source=item.source,
            via=via,
            reason=DeadLetterReason.NORMALISATION,
            error=item.error,
            raw=item.raw,
            mention_id=(
                mention_id_for(item.source, item.source_id) if item.source_id is not None else None
            ),
        )
        for item in mapped.unmappable
    ]
    # Every write runs to its end even when one fails, so a retry finds the
    # ones that did land as duplicates rather than racing them.
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, KafkaUnavailable):
            log.warning(
                "webhook delivery refused: Kafka unavailable",
                extra=fields(via=via, cause=outcome.cause, items=len(outcomes)),
            )
            raise unavailable(outcome.cause, settings.ingest_retry_after_seconds) from outcome
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    results = [o for o in outcomes if isinstance(o, Result)]
    answer = DeliveryResult(
        accepted=sum(r.outcome is Outcome.ACCEPTED for r in results),
        duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
        dead_lettered=len(mapped.unmappable),
        ignored=mapped.ignored,
        mention_ids=[r.mention_id for r in results],
    )
    return JSONResponse(answer.model_dump())
