"""Bounded path and query values, shared by every route (the number bounds live in schemas)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from teamtalk.schemas import MAX_ID, MAX_SEQ

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
QuerySeq = Annotated[int, Query(ge=0, le=MAX_SEQ)]

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_time(value: object) -> object:
    """Times as ISO 8601 text only, as the document says: pydantic would also read a bare
    number as seconds since 1970, so `created_from=439` meant 00:07:19 on 1 January 1970."""
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date and time, such as 2026-03-01T09:00:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(iso_time)]
