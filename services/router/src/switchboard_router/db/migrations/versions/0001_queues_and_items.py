"""Queues and their items.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from switchboard_router.db.types import ItemId, Time

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "items",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("mention_id", sa.String(64), nullable=False, unique=True),
        sa.Column("queue_id", sa.String(64), sa.ForeignKey("queues.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("urgency_rank", sa.SmallInteger, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("ruleset_version", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(256), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("mention", sa.JSON, nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("classified_at", Time, nullable=False),
        sa.Column("queued_at", Time, nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ix_items_queue_order", "items", ["queue_id", "urgency_rank", "received_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_items_queue_order", table_name="items")
    op.drop_table("items")
    op.drop_table("queues")
