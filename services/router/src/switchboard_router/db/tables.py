"""The router's tables (SQLAlchemy Core). Alembic migrations create them.

Times are stored in UTC. On SQLite they come back naive; readers add UTC.
The audit tables (`audit`, item steps; `access_audit`, who read or changed
what) are append-only: migrations 0002 and 0003 install triggers that refuse
UPDATE and DELETE on them (PostgreSQL and SQLite alike), except a DELETE
inside a retention run (a `retention_runs` row not yet finished, visible only
to the purge's own transaction).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    func,
)

from switchboard_router.db.types import ItemId, Time

metadata = MetaData()


def _serial() -> Column[Any]:
    """A numeric primary key the database counts up."""
    return Column("id", ItemId, primary_key=True, autoincrement=True)


def _time(name: str, *, nullable: bool, **options: Any) -> Column[Any]:
    """A moment, stored with its time zone."""
    return Column(name, Time, nullable=nullable, **options)


def _item_ref(*, nullable: bool) -> Column[Any]:
    """The item a row belongs to, deleted with it (the retention purge deletes items)."""
    return Column(
        "item_id", ItemId, ForeignKey("items.id", ondelete="CASCADE"), nullable=nullable, index=True
    )


def _created_at() -> Column[Any]:
    """When the row was written (the database's clock unless given)."""
    return _time("created_at", nullable=False, server_default=func.now())


queues = Table(
    "queues",
    metadata,
    Column("id", String(64), primary_key=True),
    _created_at(),
    # NULL: the policy's `queues` settings apply.
    Column("assignment_mode", String(16), nullable=True),
    Column("supervisor_queue", String(64), nullable=True),
)

officers = Table(
    "officers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("on_duty", Boolean, nullable=False, server_default=false()),
    Column("capacity", Integer, nullable=False, server_default="5"),
    _created_at(),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("officer_id", String(64), ForeignKey("officers.id"), nullable=False),
    # sha256 of the token: a stolen database gives no usable token.
    Column("token_hash", String(64), nullable=False, unique=True),
    _created_at(),
    _time("revoked_at", nullable=True),
    # Migration 0003. NULL: never expires (bootstrap tokens, which rotate instead).
    _time("expires_at", nullable=True),
    # The admin who minted it (NULL for bootstrap tokens): links a token's use back to them.
    Column("issued_by", String(64), nullable=True),
    # Made from SWITCHBOARD_ROUTER_BOOTSTRAP_ADMIN_TOKEN: revoked when that setting changes.
    Column("bootstrap", Boolean, nullable=False, server_default=false()),
)

memberships = Table(
    "memberships",
    metadata,
    Column("queue_id", String(64), ForeignKey("queues.id"), primary_key=True),
    Column("officer_id", String(64), ForeignKey("officers.id"), primary_key=True),
    _created_at(),
    # Round-robin state lives with the membership so it survives restarts.
    _time("last_assigned_at", nullable=True),
)

items = Table(
    "items",
    metadata,
    _serial(),
    # One mention, one item: the unique key is what makes consuming idempotent.
    Column("mention_id", String(64), nullable=False, unique=True),
    Column("queue_id", String(64), ForeignKey("queues.id"), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("urgency", String(16), nullable=False),
    Column("urgency_rank", SmallInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("rule", String(128), nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("text", Text, nullable=False),
    Column("mention", JSON, nullable=False),
    _time("received_at", nullable=False),
    _time("classified_at", nullable=False),
    _time("queued_at", nullable=False, server_default=func.now()),
    # Work state (migration 0002). Lower priority_rank is served first: it
    # starts at the urgency's rank and each raise subtracts one.
    Column("priority_rank", SmallInteger, nullable=False, server_default="2"),
    Column("assignee", String(64), ForeignKey("officers.id"), nullable=True),
    _time("claimed_at", nullable=True),
    _time("lease_expires_at", nullable=True),
    _time("acknowledged_at", nullable=True),
    _time("resolved_at", nullable=True),
    Column("disposition", String(32), nullable=True),
    _time("sla_due_at", nullable=True),
    _time("breached_at", nullable=True),
    Column("breach", String(8), nullable=True),
    Column("escalation_tier", SmallInteger, nullable=False, server_default="0"),
    _time("updated_at", nullable=True),
    # When retention blanked the mention's text, author and place (migration 0003).
    _time("redacted_at", nullable=True),
    # Incident clustering (migration 0005): when the item was clustered (NULL: not yet,
    # so a batch replayed after a crash between storing and clustering is clustered
    # then), its text's SimHash (signed 64-bit), its heaviest hashed features (from
    # which incident centroids are rebuilt without reading text again) and the place
    # the classifier found ({district, text, lat, lon}), compared with later mentions.
    _time("clustered_at", nullable=True),
    Column("simhash", BigInteger, nullable=True),
    Column("features", JSON, nullable=True),
    Column("place", JSON, nullable=True),
)

# The queue view reads most urgent first, then oldest.
Index(
    "ix_items_queue_order", items.c.queue_id, items.c.urgency_rank, items.c.received_at, items.c.id
)
Index(
    "ix_items_queue_priority",
    items.c.queue_id,
    items.c.priority_rank,
    items.c.received_at,
    items.c.id,
)
Index("ix_items_lease", items.c.status, items.c.lease_expires_at)
Index("ix_items_sla_due", items.c.sla_due_at)
Index("ix_items_assignee", items.c.assignee, items.c.status)
Index("ix_items_received_at", items.c.received_at)  # what retention ages by
# Reposts and quotes name the post they echo by platform id (migration 0005).
Index("ix_items_source_post", items.c.source, items.c.source_id)

# Watch copies: the item lives in one queue; members of a watch queue may read it.
watches = Table(
    "watches",
    metadata,
    Column("queue_id", String(64), ForeignKey("queues.id"), primary_key=True),
    Column("item_id", ItemId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    _created_at(),
)

notes = Table(
    "notes",
    metadata,
    _serial(),
    _item_ref(nullable=False),
    Column("officer_id", String(64), ForeignKey("officers.id"), nullable=False),
    _time("at", nullable=False),
    Column("text", Text, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    _serial(),
    # Deleted with its item by the retention purge (migration 0003).
    _item_ref(nullable=True),
    # The item's queue after the step: what the stream filters on.
    Column("queue_id", String(64), nullable=True),
    _time("at", nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("details", JSON, nullable=False),
)

# Who read or changed what: the principal is the officer behind the token and
# the token itself, so a token an admin minted for someone else and used is
# traced back to the admin (tokens.issued_by, and the token_issued row).
access_audit = Table(
    "access_audit",
    metadata,
    _serial(),
    _time("at", nullable=False, index=True),
    Column("officer_id", String(64), nullable=False),
    Column("token_id", String(32), nullable=True),
    Column("action", String(32), nullable=False),
    # What was touched, as `kind:id` (`item:42`, `queue:general`, `token:tok_...`).
    Column("object", String(160), nullable=True),
    Column("client", String(64), nullable=True),
    Column("details", JSON, nullable=False),
)
Index("ix_access_audit_officer", access_audit.c.officer_id, access_audit.c.at)
Index("ix_access_audit_token", access_audit.c.token_id)
Index("ix_access_audit_object", access_audit.c.object)

# One row per retention purge. While its row is unfinished (inside the purge's
# transaction only) the audit triggers let rows that aged out be deleted.
retention_runs = Table(
    "retention_runs",
    metadata,
    _serial(),
    _time("started_at", nullable=False),
    _time("finished_at", nullable=True),
    Column("details", JSON, nullable=False),
)

# Answers to citizens (migration 0004). The id is also the Idempotency-Key the
# responder gives platforms that take one. `attempts` counts hand-overs to the
# responder; only a person's retry adds one, and the responder's reports count
# only for the attempt in flight. Approval is bound to the exact text
# (`approved_text_sha256`): an edit needs a new approval.
replies = Table(
    "replies",
    metadata,
    Column("id", String(32), primary_key=True),
    _item_ref(nullable=False),
    Column("mention_id", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    # The platform id of the post answered.
    Column("in_reply_to", String(256), nullable=False),
    Column("text", Text, nullable=False),
    Column("template_id", String(64), nullable=True),
    Column("language", String(8), nullable=True),
    Column("status", String(24), nullable=False),
    Column("author", String(64), ForeignKey("officers.id"), nullable=False),
    Column("approval_required", Boolean, nullable=False),
    Column("approval_rule", String(128), nullable=False),
    Column("approver", String(64), ForeignKey("officers.id"), nullable=True),
    _time("approved_at", nullable=True),
    Column("approved_text_sha256", String(64), nullable=True),
    # Why a supervisor rejected it, or why a person cancelled it.
    Column("note", Text, nullable=True),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    # When an approved reply may be handed to the responder (the hold), and when it was.
    _time("send_after", nullable=True),
    _time("dispatched_at", nullable=True),
    Column("platform_post_id", String(256), nullable=True),
    Column("http_status", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    _time("retry_at", nullable=True),
    _time("sent_at", nullable=True),
    _created_at(),
    _time("updated_at", nullable=True),
)
# The dispatcher looks for approved replies due; the echo guard for our own posts.
Index("ix_replies_due", replies.c.status, replies.c.send_after)
Index("ix_replies_platform_post", replies.c.source, replies.c.platform_post_id)

# Citizens' answers to our replies (migration 0004): a mention whose `in_reply_to`
# is one of our sent posts joins that item's thread instead of becoming an item.
answers = Table(
    "answers",
    metadata,
    _serial(),
    _item_ref(nullable=False),
    Column("reply_id", String(32), nullable=True),
    # One mention, one answer: a replayed mention adds nothing.
    Column("mention_id", String(64), nullable=False, unique=True),
    Column("source", String(32), nullable=False),
    Column("source_id", String(256), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(256), nullable=True),
    _time("written_at", nullable=False),
    _time("received_at", nullable=False),
)

# Incidents (migration 0005): mentions of one event grouped so one officer works them.
# urgency, topics, place and the time bounds summarise the automatic and confirmed
# members; a merged incident keeps only `merged_into`.
incidents = Table(
    "incidents",
    metadata,
    _serial(),
    Column("status", String(16), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("urgency_rank", SmallInteger, nullable=False),
    Column("topics", JSON, nullable=False),
    Column("place", String(256), nullable=True),
    Column("district", String(128), nullable=True),
    _time("first_seen", nullable=False),
    _time("last_seen", nullable=False),
    Column("member_count", Integer, nullable=False),
    Column("assignee", String(64), ForeignKey("officers.id"), nullable=True),
    Column("merged_into", ItemId, ForeignKey("incidents.id"), nullable=True),
    _created_at(),
    _time("updated_at", nullable=True),
    _time("resolved_at", nullable=True),
)
Index("ix_incidents_status_last_seen", incidents.c.status, incidents.c.last_seen)

# One row per item in an incident (an item is in at most one): how it was linked,
# why, by which configuration version and, for confirmed/rejected links, by whom.
incident_members = Table(
    "incident_members",
    metadata,
    Column("item_id", ItemId, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("incident_id", ItemId, ForeignKey("incidents.id"), nullable=False, index=True),
    Column("link", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("decided_by", String(64), nullable=True),
    _time("linked_at", nullable=False),
)

# Events waiting for Kafka: written in the step's transaction, published and
# deleted by the relay, so an event is never lost between commit and send.
outbox = Table(
    "outbox",
    metadata,
    _serial(),
    Column("topic", String(64), nullable=False),
    Column("key", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    _created_at(),
    _time("claimed_until", nullable=True),
)
