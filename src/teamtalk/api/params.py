"""Bounded path and query numbers, shared by every route (the bounds live in schemas)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from teamtalk.schemas import MAX_ID, MAX_SEQ

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
QuerySeq = Annotated[int, Query(ge=0, le=MAX_SEQ)]
