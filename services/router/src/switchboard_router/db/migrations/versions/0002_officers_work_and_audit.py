"""Officers, tokens, memberships, queue settings, item work state, watches, notes,
the append-only audit trail and the event outbox.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from switchboard_router.db.types import ItemId, Time

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


_PG_APPEND_ONLY = """
CREATE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_is_append_only();
"""


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        batch.add_column(sa.Column("assignment_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("supervisor_queue", sa.String(64), nullable=True))
    op.create_table(
        "officers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("on_duty", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="5"),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("officer_id", sa.String(64), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
        sa.Column("revoked_at", Time, nullable=True),
    )
    op.create_table(
        "memberships",
        sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), primary_key=True),
        sa.Column("officer_id", sa.String(64), sa.ForeignKey("officers.id"), primary_key=True),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
        sa.Column("last_assigned_at", Time, nullable=True),
    )
    with op.batch_alter_table("items") as batch:
        batch.add_column(
            sa.Column("priority_rank", sa.SmallInteger, nullable=False, server_default="2")
        )
        batch.add_column(
            sa.Column(
                "assignee",
                sa.String(64),
                sa.ForeignKey("officers.id", name="fk_items_assignee"),
                nullable=True,
            )
        )
        for name in (
            "claimed_at",
            "lease_expires_at",
            "acknowledged_at",
            "resolved_at",
            "sla_due_at",
            "breached_at",
            "updated_at",
        ):
            batch.add_column(sa.Column(name, Time, nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(32), nullable=True))
        batch.add_column(sa.Column("breach", sa.String(8), nullable=True))
        batch.add_column(
            sa.Column("escalation_tier", sa.SmallInteger, nullable=False, server_default="0")
        )
    op.execute("UPDATE items SET priority_rank = urgency_rank")
    op.create_index(
        "ix_items_queue_priority", "items", ["queue_id", "priority_rank", "received_at", "id"]
    )
    op.create_index("ix_items_lease", "items", ["status", "lease_expires_at"])
    op.create_index("ix_items_sla_due", "items", ["sla_due_at"])
    op.create_index("ix_items_assignee", "items", ["assignee", "status"])
    op.create_table(
        "watches",
        sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), primary_key=True),
        sa.Column("item_id", ItemId, sa.ForeignKey("items.id"), primary_key=True),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "notes",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("item_id", ItemId, sa.ForeignKey("items.id"), nullable=False),
        sa.Column("officer_id", sa.String(64), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_notes_item_id", "notes", ["item_id"])
    op.create_table(
        "audit",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("item_id", ItemId, sa.ForeignKey("items.id"), nullable=True),
        sa.Column("queue_id", sa.String(64), nullable=True),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_item_id", "audit", ["item_id"])
    op.create_table(
        "outbox",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
        sa.Column("claimed_until", Time, nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_no_update ON audit")
        op.execute("DROP FUNCTION audit_is_append_only()")
    for table in ("outbox", "audit", "notes", "watches"):
        op.drop_table(table)
    for index in (
        "ix_items_assignee",
        "ix_items_sla_due",
        "ix_items_lease",
        "ix_items_queue_priority",
    ):
        op.drop_index(index, table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint("fk_items_assignee", type_="foreignkey")
        for name in (
            "escalation_tier",
            "breach",
            "disposition",
            "updated_at",
            "breached_at",
            "sla_due_at",
            "resolved_at",
            "acknowledged_at",
            "lease_expires_at",
            "claimed_at",
            "assignee",
            "priority_rank",
        ):
            batch.drop_column(name)
    op.drop_table("memberships")
    op.drop_table("tokens")
    op.drop_table("officers")
    with op.batch_alter_table("queues") as batch:
        batch.drop_column("supervisor_queue")
        batch.drop_column("assignment_mode")
