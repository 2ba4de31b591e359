"""Reading conversations: lists with filters, message pages, search."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["history"])
