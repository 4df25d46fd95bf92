"""Replies to citizens on a real PostgreSQL: writing, approval by a second person,
the hold, the hand-over to the responder through the outbox, the responder's
reports, and every refusal with its field. The clock is driven by hand
(`dispatch_due` with a chosen time) so no test waits for the hold."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from switchboard_router.db.tables import audit, outbox
from switchboard_router.replies import delivery, reports
from switchboard_router.routing.policy import Policy
from switchboard_shared.events import ReplyOutcome, ReplyRequested, ReplyStatus
from switchboard_shared.topics import REPLIES

pytestmark = pytest.mark.postgres

LATER = timedelta(seconds=11)  # past the shipped policy's 10 s hold


@pytest.fixture
def desk(client, engine, add_officer, put_items, make_item):
    """Two officers and a supervisor of `general`, one officer elsewhere, and items."""
    officer, officer_h = add_officer(client, ["general"])
    _, colleague_h = add_officer(client, ["general"])
    supervisor, supervisor_h = add_officer(client, ["general"], role="supervisor")
    _, outsider_h = add_officer(client, ["traffic"], role="supervisor")
    base = make_item("m-x")
    ids = put_items(
        engine,
        base,
        make_item("m-es", urgency="low", rank=3).model_copy(
            update={
                "mention": {"source": "x", "language": "es", "created_at": "2026-11-29T21:59:00Z"}
            }
        ),
        make_item("m-rss").model_copy(update={"source": "rss"}),
        make_item("m-conduct", urgency="low", rank=3).model_copy(
            update={"topics": ["officer_conduct"]}
        ),
    )
    return {
        "officer": (officer, officer_h),
        "colleague": colleague_h,
        "supervisor": (supervisor, supervisor_h),
        "outsider": outsider_h,
        "items": ids,
    }


def requests_in_outbox(engine):
    with engine.begin() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.topic == REPLIES.base_name)).all()
    return [ReplyRequested.model_validate_json(r.payload) for r in rows]


def reply_steps(engine, item_id):
    with engine.begin() as conn:
        rows = conn.execute(
            select(audit.c.action, audit.c.actor, audit.c.details)
            .where(audit.c.item_id == item_id, audit.c.action.like("reply_%"))
            .order_by(audit.c.id)
        ).all()
    return [(r.action, r.actor, r.details["status"]) for r in rows]


def reply_on(client, item_id, headers, **body):
    """An officer's reply on an item (text, template or draft), as the API answers it."""
    return client.post(f"/v1/items/{item_id}/replies", json=body, headers=headers)


def reply_step(client, reply, step, headers, **request):
    """A step on a reply (approve, reject, submit, cancel, retry) by the given caller."""
    return client.post(f"/v1/replies/{reply['reply_id']}/{step}", headers=headers, **request)


def outcome(request, status, **extra):
    return ReplyOutcome(
        reply_id=request.reply_id,
        mention_id=request.mention_id,
        item_id=request.item_id,
        attempt=request.attempt,
        status=status,
        channel="x",
        **extra,
    )


def test_a_reply_approved_by_a_second_person_is_handed_over_once_and_stored_as_sent(
    client, engine, desk
):
    officer, officer_h = desk["officer"]
    supervisor, supervisor_h = desk["supervisor"]
    item_id = desk["items"]["m-x"]
    made = reply_on(client, item_id, officer_h, text="Thanks, we are looking into it.")
    assert made.status_code == 201, made.text
    reply = made.json()
    assert reply["status"] == "pending_approval"
    assert (reply["author"], reply["approval_rule"], reply["in_reply_to"]) == (
        officer,
        "default",
        "m-x",
    )

    # The author may not approve their own words, nor may a plain officer.
    assert reply_step(client, reply, "approve", officer_h).status_code == 403
    assert reply_step(client, reply, "approve", desk["colleague"]).status_code == 403
    approved = reply_step(client, reply, "approve", supervisor_h)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["approver"]) == ("approved", supervisor)

    # Nothing leaves during the hold; after it, one request, attempt 1, with the approved text.
    now = datetime.now(UTC)
    assert delivery.dispatch_due(engine, now=now) == 0
    assert delivery.dispatch_due(engine, now=now + LATER) == 1
    assert delivery.dispatch_due(engine, now=now + 2 * LATER) == 0
    [request] = requests_in_outbox(engine)
    assert (request.reply_id, request.attempt, request.text, request.in_reply_to) == (
        reply["reply_id"],
        1,
        "Thanks, we are looking into it.",
        "m-x",
    )

    # Handed over and never reported on: after five minutes the on-call engineer hears of it.
    assert delivery.unreported(engine, now=now + LATER + timedelta(minutes=4)) == 0
    assert delivery.unreported(engine, now=now + LATER + timedelta(minutes=6)) == 1

    # The responder's reports: sending, then sent with the platform's id; repeats change nothing.
    assert delivery.apply_outcomes(engine, [outcome(request, ReplyStatus.SENDING)], now=now) == 0
    sent = outcome(request, ReplyStatus.SENT, platform_post_id="1900000000000000001")
    assert delivery.apply_outcomes(engine, [sent, sent], now=now) == 1
    assert delivery.apply_outcomes(engine, [outcome(request, ReplyStatus.UNKNOWN)], now=now) == 0
    assert delivery.unreported(engine, now=now + LATER + timedelta(minutes=6)) == 0
    [shown] = client.get(f"/v1/items/{item_id}/replies", headers=officer_h).json()["replies"]
    assert (shown["status"], shown["platform_post_id"], shown["attempts"]) == (
        "sent",
        "1900000000000000001",
        1,
    )
    assert reply_steps(engine, item_id) == [
        ("reply_submitted", officer, "pending_approval"),
        ("reply_approved", supervisor, "approved"),
        ("reply_dispatched", "router", "sending"),
        ("reply_reported", "responder", "sent"),
    ]


def test_editing_an_approved_reply_puts_it_back_to_pending_approval_and_nothing_is_sent(
    client, engine, desk
):
    _, officer_h = desk["officer"]
    _, supervisor_h = desk["supervisor"]
    item_id = desk["items"]["m-x"]
    reply = reply_on(client, item_id, officer_h, text="We are on it.").json()
    reply_step(client, reply, "approve", supervisor_h)
    edited = client.patch(
        f"/v1/replies/{reply['reply_id']}",
        json={"text": "We are on it, and so is the fire service."},
        headers=officer_h,
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["approver"]) == ("pending_approval", None)
    assert delivery.dispatch_due(engine, now=datetime.now(UTC) + LATER) == 0
    assert requests_in_outbox(engine) == []

    # Approved again, sent with the new words; then it can be neither edited nor cancelled.
    reply_step(client, reply, "approve", supervisor_h)
    assert delivery.dispatch_due(engine, now=datetime.now(UTC) + LATER) == 1
    [request] = requests_in_outbox(engine)
    assert request.text == "We are on it, and so is the fire service."
    late_edit = client.patch(
        f"/v1/replies/{reply['reply_id']}", json={"text": "too late"}, headers=officer_h
    )
    assert late_edit.status_code == 409
    assert reply_step(client, reply, "cancel", officer_h).status_code == 409


def test_a_template_answer_to_a_low_mention_needs_no_approval_and_speaks_the_mentions_language(
    client, engine, desk
):
    _, officer_h = desk["officer"]
    item_id = desk["items"]["m-es"]
    made = reply_on(client, item_id, officer_h, template_id="thanks", variables={"name": "Ana"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["status"], body["approval_rule"], body["language"]) == (
        "approved",
        "low-template-answers",
        "es",
    )
    assert body["text"] == "Gracias, Ana. Lo hemos pasado al equipo."
    # Officer conduct always goes past a supervisor, template or not.
    conduct = reply_on(
        client,
        desk["items"]["m-conduct"],
        officer_h,
        template_id="thanks",
        variables={"name": "Ana"},
    ).json()
    assert (conduct["status"], conduct["approval_rule"]) == ("pending_approval", "conduct-always")


def test_bad_replies_are_refused_naming_the_field_and_the_reason(client, desk):
    _, officer_h = desk["officer"]
    item_id = desk["items"]["m-x"]

    def refused(item, body, headers=officer_h):
        answer = reply_on(client, item, headers, **body)
        return answer.status_code, answer.json()

    status, problem = refused(item_id, {"text": "x" * 281})
    assert (
        status == 422
        and problem["errors"][0]["field"] == "body.text"
        and "280" in problem["detail"]
    )
    status, problem = refused(item_id, {"template_id": "no-such"})
    assert status == 422 and problem["errors"][0]["field"] == "body.template_id"
    status, problem = refused(
        item_id, {"template_id": "thanks", "variables": {"name": "A", "x": "y"}}
    )
    assert status == 422 and problem["errors"][0]["field"] == "body.variables.x"
    status, problem = refused(item_id, {"template_id": "thanks"})
    assert status == 422 and problem["errors"][0]["field"] == "body.variables.name"
    status, problem = refused(item_id, {"template_id": "thanks", "variables": {"name": "{url}"}})
    assert status == 422 and problem["errors"][0]["field"] == "body.variables.name"
    status, problem = refused(desk["items"]["m-rss"], {"text": "hello"})
    assert (
        status == 422
        and problem["errors"][0]["field"] == "item.source"
        and "rss" in problem["detail"]
    )
    status, _ = refused(item_id, {"text": "hello", "template_id": "thanks"})
    assert status == 422
    # An item of a queue you are not in does not exist for you.
    status, _ = refused(item_id, {"text": "hello"}, headers=desk["outsider"])
    assert status == 404
    assert client.get(f"/v1/items/{item_id}/replies", headers=desk["outsider"]).status_code == 404


def test_a_retry_is_a_new_attempt_and_a_late_report_of_the_old_one_is_ignored(client, engine, desk):
    _, officer_h = desk["officer"]
    _, supervisor_h = desk["supervisor"]
    reply = reply_on(client, desk["items"]["m-x"], officer_h, text="On our way.").json()
    reply_step(client, reply, "approve", supervisor_h)
    now = datetime.now(UTC)
    delivery.dispatch_due(engine, now=now + LATER)
    [first] = requests_in_outbox(engine)
    # A timeout on X: nobody knows whether it was posted; nothing is sent again by itself.
    assert delivery.apply_outcomes(engine, [outcome(first, ReplyStatus.UNKNOWN)], now=now) == 1
    assert delivery.dispatch_due(engine, now=now + 3 * LATER) == 0
    assert reply_step(client, reply, "approve", supervisor_h).status_code == 409

    # A person looked at the thread, found no post, and retries: attempt 2, the same text.
    retried = reply_step(client, reply, "retry", officer_h)
    assert retried.status_code == 200 and retried.json()["status"] == "approved"
    assert delivery.dispatch_due(engine, now=now + 3 * LATER) == 1
    second = next(r for r in requests_in_outbox(engine) if r.attempt == 2)
    assert second.text == "On our way."
    assert (
        delivery.apply_outcomes(
            engine, [outcome(first, ReplyStatus.SENT, platform_post_id="9")], now=now
        )
        == 0
    )
    assert (
        delivery.apply_outcomes(
            engine,
            [outcome(second, ReplyStatus.FAILED_PERMANENT, http_status=400, error="bad")],
            now=now,
        )
        == 1
    )
    [shown] = client.get(f"/v1/items/{desk['items']['m-x']}/replies", headers=officer_h).json()[
        "replies"
    ]
    assert (shown["status"], shown["attempts"], shown["http_status"]) == (
        "failed_permanent",
        2,
        400,
    )
    assert reply_step(client, reply, "retry", officer_h).status_code == 409


def test_the_approval_list_shows_supervisors_what_waits_in_their_queues_only(client, desk):
    _, officer_h = desk["officer"]
    _, supervisor_h = desk["supervisor"]
    made = reply_on(client, desk["items"]["m-x"], officer_h, text="Hello.").json()
    waiting = client.get("/v1/replies", headers=supervisor_h).json()["replies"]
    assert [r["reply_id"] for r in waiting] == [made["reply_id"]]
    assert client.get("/v1/replies", headers=desk["outsider"]).json()["replies"] == []
    # A rejection closes it; the outsider cannot even find it.
    assert reply_step(client, made, "reject", desk["outsider"]).status_code == 404
    rejected = reply_step(client, made, "reject", supervisor_h, json={"note": "tone"})
    assert (rejected.json()["status"], rejected.json()["note"]) == ("rejected", "tone")
    assert client.get("/v1/replies", headers=supervisor_h).json()["replies"] == []


def test_a_draft_is_kept_until_submitted(client, engine, desk):
    _, officer_h = desk["officer"]
    draft = reply_on(client, desk["items"]["m-x"], officer_h, text="Draft words", draft=True).json()
    assert draft["status"] == "draft"
    assert client.get("/v1/replies", headers=desk["supervisor"][1]).json()["replies"] == []
    # A colleague may not touch someone else's draft; the author submits it.
    assert reply_step(client, draft, "submit", desk["colleague"]).status_code == 403
    submitted = reply_step(client, draft, "submit", officer_h)
    assert submitted.json()["status"] == "pending_approval"
    assert (
        json.loads(json.dumps(reply_steps(engine, desk["items"]["m-x"])))[0][0] == "reply_drafted"
    )


def test_response_times_report_the_first_answer_from_when_the_citizen_wrote(client, engine, desk):
    _, officer_h = desk["officer"]
    made = reply_on(
        client, desk["items"]["m-es"], officer_h, template_id="thanks", variables={"name": "Ana"}
    ).json()
    assert made["status"] == "approved"
    delivery.dispatch_due(engine, now=datetime.now(UTC) + LATER)
    [request] = requests_in_outbox(engine)
    written = datetime(2026, 11, 29, 21, 59, tzinfo=UTC)  # the mention's created_at
    sent_at = written + timedelta(minutes=11)
    sent = outcome(request, ReplyStatus.SENT, platform_post_id="77", at=sent_at)
    assert delivery.apply_outcomes(engine, [sent], now=sent_at) == 1

    window = {"from": "2026-11-29T00:00:00Z", "to": "2026-11-30T00:00:00Z"}
    answer = client.get("/v1/reports/response-times", params=window, headers=officer_h)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"]) == ("2026-11-29T00:00:00Z", "2026-11-30T00:00:00Z")
    groups = {(g["queue"], g["urgency"], g["source"]): g for g in body["groups"]}
    low = groups[("general", "low", "x")]  # the Spanish question and the conduct complaint
    assert (low["answerable"], low["answered"], low["answered_share"]) == (2, 1, 0.5)
    assert low["first_response"] == {"count": 1, "p50_seconds": 660.0, "p90_seconds": 660.0}
    rss = groups[("general", "normal", "rss")]
    assert (rss["answerable"], rss["answered_share"]) == (0, None)  # RSS cannot be answered
    only_rss = client.get(
        "/v1/reports/response-times", params={**window, "source": "rss"}, headers=officer_h
    ).json()["groups"]
    assert [(g["source"], g["answerable"]) for g in only_rss] == [("rss", 0)]
    # Another desk's officer sees none of it; a bad range is refused naming the field.
    assert (
        client.get("/v1/reports/response-times", params=window, headers=desk["outsider"]).json()[
            "groups"
        ]
        == []
    )
    backwards = client.get(
        "/v1/reports/response-times",
        params={"from": "2026-11-30T00:00:00Z", "to": "2026-11-29T00:00:00Z"},
        headers=officer_h,
    )
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "query.from"
    # Resolving it is timed from the citizen's post too, per queue, urgency and source.
    labels = {"queue": "general", "urgency": "low", "source": "x"}
    name = "switchboard_router_post_to_resolve_seconds"
    before = REGISTRY.get_sample_value(f"{name}_count", labels) or 0.0
    client.post(f"/v1/items/{desk['items']['m-es']}/claim", headers=officer_h)
    resolved = client.post(
        f"/v1/items/{desk['items']['m-es']}/resolve",
        json={"disposition": "actioned"},
        headers=officer_h,
    )
    assert resolved.status_code == 200, resolved.text
    assert REGISTRY.get_sample_value(f"{name}_count", labels) == before + 1
    # The day's answered share per queue, as the gauge and its alert read it.
    shares = reports.answered_shares(
        engine, policy=Policy.load().replies, now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    )
    assert shares == {"general": (3, 1)}
