"""Replies: answers to citizens, their approval, their delivery attempts and
the platform's id of each one sent (what the echo guard and conversations
look up); and `answers`, the citizens' answers to our replies, kept in the
item's thread.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from switchboard_router.db.types import ItemId, Time

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "item_id",
            ItemId,
            sa.ForeignKey("items.id", ondelete="CASCADE", name="fk_replies_item_id_items"),
            nullable=False,
        ),
        sa.Column("mention_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("in_reply_to", sa.String(256), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("template_id", sa.String(64), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("author", sa.String(64), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("approval_required", sa.Boolean, nullable=False),
        sa.Column("approval_rule", sa.String(128), nullable=False),
        sa.Column("approver", sa.String(64), sa.ForeignKey("officers.id"), nullable=True),
        sa.Column("approved_at", Time, nullable=True),
        sa.Column("approved_text_sha256", sa.String(64), nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("send_after", Time, nullable=True),
        sa.Column("dispatched_at", Time, nullable=True),
        sa.Column("platform_post_id", sa.String(256), nullable=True),
        sa.Column("http_status", sa.Integer, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("retry_at", Time, nullable=True),
        sa.Column("sent_at", Time, nullable=True),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", Time, nullable=True),
    )
    op.create_index("ix_replies_item_id", "replies", ["item_id"])
    op.create_index("ix_replies_due", "replies", ["status", "send_after"])
    op.create_index("ix_replies_platform_post", "replies", ["source", "platform_post_id"])
    op.create_table(
        "answers",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column(
            "item_id",
            ItemId,
            sa.ForeignKey("items.id", ondelete="CASCADE", name="fk_answers_item_id_items"),
            nullable=False,
        ),
        sa.Column("reply_id", sa.String(32), nullable=True),
        sa.Column("mention_id", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(256), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(256), nullable=True),
        sa.Column("written_at", Time, nullable=False),
        sa.Column("received_at", Time, nullable=False),
    )
    op.create_index("ix_answers_item_id", "answers", ["item_id"])


def downgrade() -> None:
    op.drop_table("answers")
    op.drop_table("replies")
