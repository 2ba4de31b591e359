"""the presence log: every leader status change

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import teamtalk.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "presence_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", teamtalk.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_presence_log_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_presence_log_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_log")),
    )
    op.create_index("ix_presence_log_user_id_created_at", "presence_log", ["user_id", "created_at"])
    op.create_index("ix_presence_log_created_at", "presence_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_presence_log_created_at", table_name="presence_log")
    op.drop_index("ix_presence_log_user_id_created_at", table_name="presence_log")
    op.drop_table("presence_log")
