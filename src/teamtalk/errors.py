"""One error tree with stable machine codes, rendered the same over HTTP and in socket acks."""

from __future__ import annotations

import logging
import sqlite3
import time
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


DATABASE_RETRY_AFTER = 5  # seconds: a database restart or failover
REDIS_RETRY_AFTER = 2  # seconds: the embedded Valkey is back within one
OUTAGE_LOG_SECONDS = 10.0  # one warning per dependency this often, not one per request

# SQLite primary result codes (the low byte) of a database that cannot be used right now:
# BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL. A wrong statement (SQLITE_ERROR:
# syntax, no such table) is a bug, and stays one.
SQLITE_OUTAGES = frozenset({5, 6, 8, 10, 13, 14, 15})
# PostgreSQL SQLSTATE prefixes: connection exception, insufficient resources (too many
# connections), shutdown or start-up ("cannot connect now"), system error.
POSTGRES_OUTAGES = ("08", "53", "57P", "58")
DRIVERS = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def dependency_failures() -> tuple[type[Exception], ...]:
    """Failures that are not bugs: a dependency that is down or too busy. Every one of these
    classes is answered by `dependency_error`; what it does not recognise is a 500."""
    import redis.exceptions  # here, not above: redis-py costs the command line 0.1 s of CPU

    return (
        sqlalchemy.exc.TimeoutError,
        sqlalchemy.exc.DBAPIError,
        redis.exceptions.ConnectionError,  # BusyLoadingError (Valkey loading its AOF) too
        redis.exceptions.TimeoutError,
        OSError,  # asyncpg lets a refused connect escape unwrapped
        sqlite3.Error,  # raised unwrapped by the statements run in aiosqlite's thread
        ExceptionGroup,
    )


_logged_at: dict[str, float] = {}


def dependency_error(exc: BaseException) -> TeamTalkError | None:
    """The answer when a dependency failed (the pool is exhausted, the database or Redis is
    down), else None: the one place that tells an outage from a bug."""
    import redis.exceptions

    if isinstance(exc, BaseExceptionGroup):
        # Starlette and anyio task groups wrap what their tasks raised.
        answers = [dependency_error(e) for e in exc.exceptions]
        if answers and all(answers):
            return answers[0]
        return None
    if isinstance(exc, sqlalchemy.exc.TimeoutError) or _redis_pool_exhausted(exc):
        return Unavailable("The server is busy; try again in a moment.", code="busy")
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return Unavailable(
            "Redis is unavailable; try again in a moment.",
            code="redis_unavailable",
            retry_after=REDIS_RETRY_AFTER,
        )
    if _database_down(exc):
        return Unavailable(
            "The database is unavailable; try again in a moment.",
            code="database_unavailable",
            retry_after=DATABASE_RETRY_AFTER,
        )
    return None


def _redis_pool_exhausted(exc: BaseException) -> bool:
    # redis-py's BlockingConnectionPool, after waiting its timeout for a free connection.
    import redis.exceptions

    return isinstance(exc, redis.exceptions.ConnectionError) and isinstance(
        exc.__cause__, TimeoutError
    )


def _database_down(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.ProgrammingError):
            return False
        return _driver_outage(exc.orig)
    # Raw driver errors: asyncpg's own, or an OSError from connecting through the pool.
    return _driver_outage(exc) and _from_driver(exc)


def _driver_outage(exc: BaseException | None) -> bool:
    """Whether the driver's error (or what caused it) says the server cannot be used now."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlite3.Error):
            return (exc.sqlite_errorcode & 0xFF) in SQLITE_OUTAGES
        sqlstate = getattr(exc, "sqlstate", None)
        if isinstance(sqlstate, str) and type(exc).__module__.startswith("asyncpg"):
            return sqlstate.startswith(POSTGRES_OUTAGES)
        if isinstance(exc, OSError):  # refused, reset, unreachable, timed out
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _from_driver(exc: BaseException) -> bool:
    """Whether the error was raised in the database driver or SQLAlchemy, not elsewhere."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in DRIVERS:
            return True
        tb = tb.tb_next
    return False


def log_outage(logger: logging.Logger, error: TeamTalkError, exc: BaseException) -> None:
    """One warning line, no traceback, at most every OUTAGE_LOG_SECONDS per code: an outage
    answers every request and every socket reconnect with a 503."""
    now = time.monotonic()
    if now - _logged_at.get(error.code, -OUTAGE_LOG_SECONDS) < OUTAGE_LOG_SECONDS:
        return
    _logged_at[error.code] = now
    logger.warning("%s: %s: %s", error.code, type(exc).__name__, str(exc)[:200])


def error_payload(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def field_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic validation errors as [{field, message, type}] for clients to show by field,
    each message a sentence a person reads next to the field."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        message = human_message(err)
        out.append({"field": ".".join(loc), "message": message, "type": err.get("type")})
    return out


def human_message(err: dict[str, Any]) -> str:
    """Pydantic's wording ("String should have at least 8 characters") as people put it."""
    kind, ctx, msg = err.get("type"), err.get("ctx") or {}, str(err.get("msg", ""))
    if kind == "missing":
        return "Required."
    unit = "characters" if isinstance(err.get("input"), str) else "items"
    if kind in ("string_too_short", "too_short"):
        n = ctx.get("min_length", 1)
        return "Required." if n == 1 else f"Use at least {n} {unit}."
    if kind in ("string_too_long", "too_long"):
        return f"Use at most {ctx.get('max_length')} {unit}."
    if kind in ("greater_than_equal", "greater_than"):
        return f"Use a number of at least {ctx.get('ge', ctx.get('gt'))}."
    if kind in ("less_than_equal", "less_than"):
        return f"Use a number of at most {ctx.get('le', ctx.get('lt'))}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "Use a whole number."
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return f"Choose one of {ctx['expected']}."
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return msg
