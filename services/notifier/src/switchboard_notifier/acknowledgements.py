"""`POST /v1/escalations/{escalation_id}/ack`: the person paged says "I have it".

An escalation is named by its group, as every page carries it (`group` in the
webhook body, the start of PagerDuty's `dedup_key`): `incident:<id>` or
`item:<id>`. Acknowledging it cancels the group's pending steps (the email to the
deputy after five minutes) in one transaction; a send already going out is not
stopped. An incident is acknowledged only here: the router's item steps name an
item, and acknowledging one report of a fire must not silence the page about the
other forty-nine.

The caller is a pager integration or an on-call tool holding the notifier's
acknowledgement token (`SWITCHBOARD_NOTIFIER_ACK_TOKEN`); officers acknowledge their
items in the router, which cancels the item's pages through `mentions.routed.v1`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from switchboard_notifier import metrics, store
from switchboard_notifier.settings import NotifierSettings
from switchboard_shared.logs import fields
from switchboard_shared.metrics_server import bearer_matches
from switchboard_shared.problems import ProblemError
from switchboard_shared.settings import env_name

log = logging.getLogger(__name__)

ESCALATION_ID = re.compile(r"^(incident|item):[1-9][0-9]{0,17}$")


class Acknowledgement(BaseModel):
    """Who acknowledges (kept with the group, and in the log line)."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:+-]+$")]


class Acknowledged(BaseModel):
    """What the acknowledgement did."""

    escalation_id: str
    acknowledged_by: str
    cancelled: int


def acknowledgement_router(settings: NotifierSettings, engine: Engine) -> APIRouter:
    """The acknowledgement route, bound to the notifier's settings and store."""
    router = APIRouter(tags=["escalations"])
    token = settings.notifier_ack_token

    @router.post("/v1/escalations/{escalation_id}/ack", response_model=Acknowledged)
    async def acknowledge_escalation(
        body: Acknowledgement,
        escalation_id: Annotated[str, Path(max_length=64)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> Acknowledged:
        if token is None:
            raise ProblemError(
                503,
                "acknowledgements-off",
                "Acknowledgements are off",
                f"{env_name('notifier_ack_token')} is not set, so no caller can be trusted "
                "to cancel pages",
            )
        if not bearer_matches(authorization, token.get_secret_value()):
            raise ProblemError(
                401,
                "unauthorised",
                "Unauthorised",
                "Authorization: Bearer <the notifier's acknowledgement token> is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not ESCALATION_ID.match(escalation_id):
            raise ProblemError(
                422,
                "invalid-request",
                "Invalid request",
                "escalation_id: must be incident:<id> or item:<id>, as the page carries it",
                field="path.escalation_id",
            )
        if not await asyncio.to_thread(store.known_group, engine, escalation_id):
            raise ProblemError(
                404,
                "not-found",
                "Not found",
                f"escalation_id: no escalation {escalation_id} was ever paged",
                field="path.escalation_id",
            )
        cancelled = await asyncio.to_thread(
            store.acknowledge, engine, group=escalation_id, by=body.by, at=datetime.now(UTC)
        )
        metrics.CANCELLED.inc(cancelled)
        log.info(
            "escalation acknowledged",
            extra=fields(group=escalation_id, by=body.by, cancelled=cancelled),
        )
        return Acknowledged(
            escalation_id=escalation_id, acknowledged_by=body.by, cancelled=cancelled
        )

    return router
