"""One error tree with stable machine codes, rendered the same over HTTP and in socket acks."""

from __future__ import annotations

from typing import Any

import sqlalchemy.exc


class TeamTalkError(Exception):
    status = 400
    code = "bad_request"
    message = "Bad request."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def payload(self) -> dict[str, Any]:
        return error_payload(self.code, self.message, self.details)


class NotAuthenticated(TeamTalkError):
    status, code, message = 401, "not_authenticated", "Sign in to continue."


class Forbidden(TeamTalkError):
    status, code, message = 403, "forbidden", "You are not allowed to do that."


class NotFound(TeamTalkError):
    status, code, message = 404, "not_found", "Not found."


class Conflict(TeamTalkError):
    status, code, message = 409, "conflict", "That conflicts with the current state."


class PayloadTooLarge(TeamTalkError):
    status, code, message = 413, "payload_too_large", "The request is too large."


class Invalid(TeamTalkError):
    status, code, message = 422, "invalid", "The request is not valid."


class TooManyRequests(TeamTalkError):
    status, code, message = 429, "too_many_requests", "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(TeamTalkError):
    status, code, message = 503, "unavailable", "The service is unavailable; try again shortly."

    def __init__(
        self, message: str | None = None, *, code: str | None = None, retry_after: int = 1
    ):
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.headers = {"Retry-After": str(retry_after)}


# Failures that are not bugs: every database connection of this process in use (a burst
# must not become a 500).
DEPENDENCY_FAILURES: tuple[type[Exception], ...] = (sqlalchemy.exc.TimeoutError,)


def dependency_error(exc: Exception) -> TeamTalkError | None:
    """The answer for one of DEPENDENCY_FAILURES, else None."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):
        return Unavailable("The server is busy; try again in a moment.", code="busy")
    return None


def error_payload(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic validation errors as [{field, message, type}] for clients to show by field."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type")})
    return out
