"""Canned responses: replies admins write once and leaders insert from the composer."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from teamtalk.errors import Conflict, NotFound
from teamtalk.models import CannedResponse
from teamtalk.services.conversations import check_topic


async def list_canned(
    db: AsyncSession, *, q: str | None = None, topic_id: int | None = None
) -> Sequence[CannedResponse]:
    """All of them by title; with a topic only that topic's and the general ones, the
    topic's first; with `q` only those whose title or body holds it, ignoring case."""
    query = select(CannedResponse)
    order = [func.lower(CannedResponse.title), CannedResponse.id]
    if topic_id is not None:
        query = query.where(
            or_(CannedResponse.topic_id == topic_id, CannedResponse.topic_id.is_(None))
        )
        order.insert(0, case((CannedResponse.topic_id == topic_id, 0), else_=1))
    if q is not None and q.strip():
        needle = q.strip().lower()
        query = query.where(
            or_(
                func.lower(CannedResponse.title).contains(needle, autoescape=True),
                func.lower(CannedResponse.body).contains(needle, autoescape=True),
            )
        )
    return (await db.scalars(query.order_by(*order))).all()


async def get_canned(db: AsyncSession, canned_id: int) -> CannedResponse:
    canned = await db.get(CannedResponse, canned_id)
    if canned is None:
        raise NotFound("No such canned response.", code="canned_not_found")
    return canned


async def create_canned(
    db: AsyncSession, author_id: int, *, title: str, body: str, topic_id: int | None
) -> CannedResponse:
    await check_topic(db, topic_id)
    await _check_unused(db, title)
    canned = CannedResponse(
        title=title, title_key=title.lower(), body=body, topic_id=topic_id, created_by=author_id
    )
    db.add(canned)
    await _commit_unique(db, title)
    return canned


async def update_canned(
    db: AsyncSession, canned: CannedResponse, *, title: str, body: str, topic_id: int | None
) -> CannedResponse:
    if topic_id != canned.topic_id:  # one kept from before its topic was archived stays
        await check_topic(db, topic_id)
    await _check_unused(db, title, but=canned.id)
    canned.title, canned.title_key = title, title.lower()
    canned.body, canned.topic_id = body, topic_id
    await _commit_unique(db, title)
    return canned


async def delete_canned(db: AsyncSession, canned: CannedResponse) -> None:
    await db.delete(canned)
    await db.commit()


async def _check_unused(db: AsyncSession, title: str, *, but: int | None = None) -> None:
    """Titles are told apart without regard to case: "Greeting" is "greeting"."""
    query = select(CannedResponse.title).where(CannedResponse.title_key == title.lower())
    if but is not None:
        query = query.where(CannedResponse.id != but)
    taken = await db.scalar(query.limit(1))
    if taken is not None:
        raise _taken(taken)


async def _commit_unique(db: AsyncSession, title: str) -> None:
    """The unique title key settles a race the check above cannot see."""
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise _taken(title) from None


def _taken(title: str) -> Conflict:
    return Conflict(
        f"There is already a canned response titled {title}.", code="canned_title_taken"
    )
