"""Incidents: mentions of one event grouped (`incidents`, `incident_members`), and on
each item when it was clustered, its SimHash, its hashed features and its place.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from switchboard_router.db.types import ItemId, Time

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("clustered_at", Time, nullable=True))
        batch.add_column(sa.Column("simhash", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("features", sa.JSON, nullable=True))
        batch.add_column(sa.Column("place", sa.JSON, nullable=True))
    op.create_index("ix_items_source_post", "items", ["source", "source_id"])
    op.create_table(
        "incidents",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("urgency_rank", sa.SmallInteger, nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("place", sa.String(256), nullable=True),
        sa.Column("district", sa.String(128), nullable=True),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
        sa.Column("member_count", sa.Integer, nullable=False),
        sa.Column(
            "assignee",
            sa.String(64),
            sa.ForeignKey("officers.id", name="fk_incidents_assignee_officers"),
            nullable=True,
        ),
        sa.Column(
            "merged_into",
            ItemId,
            sa.ForeignKey("incidents.id", name="fk_incidents_merged_into_incidents"),
            nullable=True,
        ),
        sa.Column("created_at", Time, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", Time, nullable=True),
        sa.Column("resolved_at", Time, nullable=True),
    )
    op.create_index("ix_incidents_status_last_seen", "incidents", ["status", "last_seen"])
    op.create_table(
        "incident_members",
        sa.Column(
            "item_id",
            ItemId,
            sa.ForeignKey("items.id", ondelete="CASCADE", name="fk_incident_members_item_id_items"),
            primary_key=True,
        ),
        sa.Column(
            "incident_id",
            ItemId,
            sa.ForeignKey("incidents.id", name="fk_incident_members_incident_id_incidents"),
            nullable=False,
        ),
        sa.Column("link", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("linked_at", Time, nullable=False),
    )
    op.create_index("ix_incident_members_incident_id", "incident_members", ["incident_id"])


def downgrade() -> None:
    op.drop_table("incident_members")
    op.drop_table("incidents")
    op.drop_index("ix_items_source_post", "items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("place")
        batch.drop_column("features")
        batch.drop_column("simhash")
        batch.drop_column("clustered_at")
