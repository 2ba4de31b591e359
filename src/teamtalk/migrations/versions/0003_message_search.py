"""message search and history indexes

Full-text search over messages, in the database itself:
- SQLite: an FTS5 table over `messages` (external content: the text is stored once, in
  `messages`), kept in step by triggers. Tokenizer `porter unicode61 remove_diacritics 2`:
  English stemming ("refunds" finds "refund"), any script, accents ignored.
- PostgreSQL: a GIN index on to_tsvector('english', body). The 'english' configuration
  stems like the SQLite side does, so both backends find the same words; its cost is that
  English stop words ("the", "or") are not searchable, which a support chat never needs.
  services/search.py must use exactly this expression for the index to serve it.

Neither is in models.py (it cannot describe them); migrations.include_name hides them from
model/database comparisons. Caution for later migrations: a batch ("move and copy") rebuild
of `messages` on SQLite drops these triggers; recreate them afterwards.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content='messages', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
    END
    """,
    # Index the messages written before this migration.
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER messages_fts_update",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_insert",
    "DROP TABLE messages_fts",
]


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.create_index("ix_conversations_updated_at_id", ["updated_at", "id"])
        batch_op.create_index("ix_conversations_created_at_id", ["created_at", "id"])
        batch_op.create_index("ix_conversations_topic_id", ["topic_id"])
    if op.get_context().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    else:
        op.execute(
            "CREATE INDEX ix_messages_fts ON messages USING gin (to_tsvector('english', body))"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX ix_messages_fts")
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_index("ix_conversations_topic_id")
        batch_op.drop_index("ix_conversations_created_at_id")
        batch_op.drop_index("ix_conversations_updated_at_id")
