"""canned responses: replies admins write once for leaders to insert

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import teamtalk.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("title_key", sa.String(length=320), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", teamtalk.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", teamtalk.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"], ["topics.id"], name=op.f("fk_canned_responses_topic_id_topics")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_canned_responses_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint("title_key", name=op.f("uq_canned_responses_title_key")),
    )
    op.create_index("ix_canned_responses_topic_id", "canned_responses", ["topic_id"])


def downgrade() -> None:
    op.drop_index("ix_canned_responses_topic_id", table_name="canned_responses")
    op.drop_table("canned_responses")
