"""Routing routes: where a mention would go and why, and the policy in force."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from switchboard_router.http import errors
from switchboard_router.people.deps import (
    CurrentCaller,
    PoliciesDep,
)
from switchboard_router.routing.schemas import (
    ExplainRequest,
    Explanation,
    PolicyPublic,
)

router = APIRouter()


@router.post("/v1/routing/explain", summary="Where a mention would go, and why", responses=errors())
async def explain(
    body: ExplainRequest, caller: CurrentCaller, policies: PoliciesDep
) -> Explanation:
    """Route a mention through the policy in force without storing anything."""
    policy = policies.current()
    decision = policy.explain(body.mention, body.classification)
    settings = policy.queue_settings(decision.queue_id)
    sla = policy.sla_for(decision.queue_id, body.classification.urgency)
    # An explanation is the decision itself and what the policy says about its queue.
    return Explanation(
        **asdict(decision),
        policy_version=policy.version,
        assignment_mode=settings.assignment,
        supervisor_queue=settings.supervisor_queue,
        sla=sla.name if sla else None,
        claim_seconds=sla.claim_seconds if sla else None,
        ack_seconds=sla.ack_seconds if sla else None,
    )


@router.get("/v1/routing", summary="The routing policy in force", responses=errors())
async def get_policy(caller: CurrentCaller, policies: PoliciesDep) -> PolicyPublic:
    """Its version, default queue, rule names and where it was loaded from."""
    policy = policies.current()
    return PolicyPublic(
        version=policy.version,
        default_queue=policy.default_queue,
        rules=[r.name for r in policy.rules],
        source=str(policies.path) if policies.path else "shipped",
    )
