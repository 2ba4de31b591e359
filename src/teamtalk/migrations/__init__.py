"""One Alembic tree for SQLite and PostgreSQL (env.py runs it, versions/ holds the steps)."""

from __future__ import annotations

from alembic.runtime.environment import NameFilterParentNames, NameFilterType

# Full-text search is made by migration 0003 and lives outside models.py, which cannot
# describe it: on SQLite the FTS5 table `messages_fts` (plus the shadow tables FTS5 keeps
# beside it, all named `messages_fts_*`), on PostgreSQL the GIN expression index below.
SEARCH_TABLE = "messages_fts"
SEARCH_INDEX = "ix_messages_fts"


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic's name filter: comparisons of models and database skip the search objects."""
    if name is None:
        return True
    if type_ == "table":
        return name != SEARCH_TABLE and not name.startswith(SEARCH_TABLE + "_")
    if type_ == "index":
        return name != SEARCH_INDEX
    return True
