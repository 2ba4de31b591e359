"""Full-text search over what people wrote, in the database itself: SQLite FTS5 or
PostgreSQL text search (both made by migration 0003).

Only user messages are searched: system messages ("assigned to ...") would be noise. Every
word must match; words are stemmed ("refunds" finds "refunding"). The user's text never
reaches the database as query syntax: on SQLite every word is quoted as an FTS5 string, on
PostgreSQL plainto_tsquery reads it as plain words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    Text,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Invalid
from teamtalk.models import Conversation, Message, MessageKind, User
from teamtalk.schemas import ConversationOut, MessageOut, SearchHit, SearchPage, SnippetPart
from teamtalk.services.listing import Filters, visible
from teamtalk.services.presenters import names_for

MAX_WORDS = 32
# What the database puts around matched words: private-use characters nobody types, so the
# snippet is split into plain-text parts here and the client never renders markup.
START, END = "\ue000", "\ue001"
SNIPPET_WORDS = 24

# SQLite: the FTS5 table (rowid = messages.id).
FTS = table("messages_fts", column("rowid"))
FTS_TABLE: ColumnClause[Any] = literal_column("messages_fts")

# PostgreSQL: must be the expression of the GIN index ix_messages_fts, literally, for the
# index to serve the query ('english': stemming like SQLite's porter tokenizer).
CONFIG: ColumnClause[Any] = literal_column("'english'")
# ts_headline drops what its parser takes for an HTML tag ("<b>"); bodies are plain text, so
# "<" goes in as this stand-in and comes back out.
LT = "\ue002"
HEADLINE_OPTIONS = (
    f'StartSel="{START}", StopSel="{END}", MaxWords={SNIPPET_WORDS}, MinWords=12, ShortWord=2'
)

# FTS5 reads these bare words as operators; a user typing them meant no word to find.
OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})


def words(q: str) -> list[str]:
    """The words to find: whitespace-separated, at least one letter or digit each, FTS
    operators and the snippet markers dropped."""
    found = []
    for token in q.replace(START, " ").replace(END, " ").replace("\x00", " ").split():
        letters = "".join(ch for ch in token if ch.isalnum())
        if letters and letters not in OPERATORS:
            found.append(token)
    if len(found) > MAX_WORDS:
        detail = [{"field": "q", "message": f"at most {MAX_WORDS} words", "type": "too_long"}]
        raise Invalid(f"Search for at most {MAX_WORDS} words.", details=detail)
    return found


def fts5_query(found: Sequence[str]) -> str:
    """Each word as an FTS5 string (its own quotes doubled); side by side, all must match."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in found)


def snippet_parts(marked: str) -> list[SnippetPart]:
    """Split highlighted text at the markers; a stray marker in the text itself is dropped."""
    parts: list[SnippetPart] = []
    inside = False
    for piece in re.split(f"([{START}{END}])", marked):
        if piece in (START, END):
            inside = piece == START
        elif piece:
            if parts and parts[-1].match == inside:
                parts[-1].text += piece
            else:
                parts.append(SnippetPart(text=piece, match=inside))
    return parts


def trimmed(headline: str, body: str) -> str:
    """ts_headline cuts without saying so; mark the cut ends with an ellipsis as FTS5 does."""
    plain = headline.replace(START, "").replace(END, "")
    where = body.find(plain)
    if not plain or where < 0:
        return headline
    if body[where + len(plain) :].strip():
        headline += "…"
    if body[:where].strip():
        headline = "…" + headline
    return headline


async def search(
    db: AsyncSession,
    user: User,
    q: str,
    filters: Filters,
    *,
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """Best matches first; agents search only their own conversations, leaders and admins
    every conversation."""
    found = words(q)
    if not found:
        return SearchPage(hits=[], next_offset=None)
    where = [Message.kind == MessageKind.USER, *visible(user, filters)]
    sqlite = db.get_bind().dialect.name == "sqlite"
    match: ColumnElement[bool]
    if sqlite:
        match = FTS_TABLE.op("MATCH")(fts5_query(found))
        ranked = (
            select(Message.id)
            .select_from(FTS)
            .join(Message, Message.id == FTS.c.rowid)
            .order_by(func.bm25(FTS_TABLE), Message.id.desc())
        )
    else:
        document = func.to_tsvector(CONFIG, Message.body)
        query = func.plainto_tsquery(CONFIG, " ".join(found))
        match = document.op("@@")(query)
        ranked = select(Message.id).order_by(
            func.ts_rank(document, query).desc(), Message.id.desc()
        )
    ranked = ranked.join(Conversation, Conversation.id == Message.conversation_id).where(
        match, *where
    )
    ids = list((await db.scalars(ranked.limit(limit + 1).offset(offset))).all())
    more = len(ids) > limit
    ids = ids[:limit]
    if not ids:
        return SearchPage(hits=[], next_offset=None)

    # Snippets only for the page: highlighting is the costly part.
    highlighted: Select[Message, str]
    if sqlite:
        highlighted = (
            select(Message, func.snippet(FTS_TABLE, 0, START, END, "…", SNIPPET_WORDS, type_=Text))
            .select_from(FTS)
            .join(Message, Message.id == FTS.c.rowid)
            .where(match, FTS.c.rowid.in_(ids))
        )
    else:
        highlighted = select(
            Message,
            func.ts_headline(
                CONFIG, func.replace(Message.body, "<", LT), query, HEADLINE_OPTIONS, type_=Text
            ),
        ).where(Message.id.in_(ids))
    messages: dict[int, tuple[Message, str]] = {}
    for message, snippet in await db.execute(highlighted):
        if not sqlite:
            snippet = trimmed(snippet.replace(LT, "<"), message.body)
        messages[message.id] = (message, snippet)
    conversation_ids = {message.conversation_id for message, _ in messages.values()}
    conversations = {
        c.id: c
        for c in await db.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids)))
    }
    names = await names_for(
        db,
        [
            *(i for c in conversations.values() for i in (c.agent_id, c.assignee_id)),
            *(m.sender_id for m, _ in messages.values()),
        ],
        [c.topic_id for c in conversations.values()],
    )
    hits = []
    for message_id in ids:
        if message_id not in messages:  # deleted between the two queries
            continue
        message, snippet = messages[message_id]
        hits.append(
            SearchHit(
                message=MessageOut.of(message, names),
                conversation=ConversationOut.of(conversations[message.conversation_id], names),
                snippet=snippet_parts(snippet),
            )
        )
    return SearchPage(hits=hits, next_offset=offset + limit if more else None)
