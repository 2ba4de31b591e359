"""What a user is: agent, team leader or admin. On its own so the command line can offer the
choice without loading the database models."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    AGENT = "agent"
    TEAMLEADER = "teamleader"
    ADMIN = "admin"
