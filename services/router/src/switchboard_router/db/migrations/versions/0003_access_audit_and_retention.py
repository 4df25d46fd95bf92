"""The access audit (who read or changed what, with which token, from where),
token lifetimes and the bootstrap flag, and what retention needs: item
children that go with their item (ON DELETE CASCADE), a redaction mark, and
the retention runs whose open row is the only thing that lets the purge
delete from the append-only audit tables.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from switchboard_router.db.types import ItemId, Time

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit", "access_audit")
CHILDREN = ("notes", "watches", "audit")
# SQLite's foreign keys have no names; batch mode names them by this convention.
NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_PURGING = "EXISTS (SELECT 1 FROM retention_runs WHERE finished_at IS NULL)"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A retention run open in this transaction (uncommitted rows are invisible
    -- to every other transaction) may delete what has aged out; nothing else may.
    IF TG_OP = 'DELETE' AND {_PURGING} THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$;
"""


def _sqlite_triggers(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
    )
    op.execute(
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {_PURGING} "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
    )


def _pg_triggers(table: str) -> None:
    if table != "audit":  # 0002 made audit's row trigger
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_is_append_only()"
        )
    # TRUNCATE fires no row trigger.
    op.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_is_append_only()"
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("expires_at", Time, nullable=True))
        batch.add_column(sa.Column("issued_by", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("bootstrap", sa.Boolean, nullable=False, server_default=sa.false())
        )
    # Before this revision only the bootstrap step gave `admin` tokens in practice;
    # marking them all means the next rotation revokes every one of them.
    op.execute("UPDATE tokens SET bootstrap = true WHERE officer_id = 'admin'")
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("redacted_at", Time, nullable=True))
    op.create_index("ix_items_received_at", "items", ["received_at"])
    op.create_table(
        "retention_runs",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("finished_at", Time, nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_table(
        "access_audit",
        sa.Column("id", ItemId, primary_key=True, autoincrement=True),
        sa.Column("at", Time, nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object", sa.String(160), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_access_audit_at", "access_audit", ["at"])
    op.create_index("ix_access_audit_officer", "access_audit", ["officer_id", "at"])
    op.create_index("ix_access_audit_token", "access_audit", ["token_id"])
    op.create_index("ix_access_audit_object", "access_audit", ["object"])
    for table in CHILDREN:
        name = f"fk_{table}_item_id_items"
        if postgres:
            op.drop_constraint(f"{table}_item_id_fkey", table, type_="foreignkey")
            op.create_foreign_key(name, table, "items", ["item_id"], ["id"], ondelete="CASCADE")
        else:
            # Recreates the table (and drops its triggers: made again below).
            with op.batch_alter_table(table, naming_convention=NAMING) as batch:
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(name, "items", ["item_id"], ["id"], ondelete="CASCADE")
    if postgres:
        op.execute(_PG_FUNCTION)
        for table in APPEND_ONLY:
            _pg_triggers(table)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for table in APPEND_ONLY:
            _sqlite_triggers(table)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER access_audit_no_update ON access_audit")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
    else:
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("access_audit")
    for table in CHILDREN:
        name = f"fk_{table}_item_id_items"
        if postgres:
            op.drop_constraint(name, table, type_="foreignkey")
            op.create_foreign_key(f"{table}_item_id_fkey", table, "items", ["item_id"], ["id"])
        else:
            with op.batch_alter_table(table, naming_convention=NAMING) as batch:
                batch.drop_constraint(name, type_="foreignkey")
                batch.create_foreign_key(name, "items", ["item_id"], ["id"])
    if postgres:
        op.execute(_PG_FUNCTION.replace(f"IF TG_OP = 'DELETE' AND {_PURGING}", "IF false"))
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit "
                "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"
            )
    op.drop_table("retention_runs")
    op.drop_index("ix_items_received_at", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("redacted_at")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("bootstrap")
        batch.drop_column("issued_by")
        batch.drop_column("expires_at")
