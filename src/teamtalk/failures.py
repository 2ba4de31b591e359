"""Failures that mean a store is unreachable (an outage to wait out, not a bug), and the
backoff that loops use while one lasts."""

from __future__ import annotations

import logging
import time

import redis.exceptions

from teamtalk import errors

FIRST_WAIT = 0.05
LONGEST_WAIT = 2.0  # short enough that work waiting drains within seconds of a recovery


def dependency(exc: BaseException) -> str | None:
    """ "redis" or "database" when `exc` says that store cannot be reached or is too busy
    (errors.dependency_error decides, as it does for the answers), else None."""
    if errors.dependency_error(exc) is None:
        return None
    redis_failure = redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
    return "redis" if isinstance(exc, redis_failure) else "database"


class Backoff:
    """Waits that double while something keeps failing, from FIRST_WAIT up to LONGEST_WAIT;
    one log line when the failures start and one when it works again, not one per try."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self.wait = 0.0
        self.cause: str | None = None  # what the current failures are about
        self._since = 0.0

    def failed(self, exc: Exception) -> float:
        """Log the failure if it starts an outage (or changes its cause); returns how long
        to wait before the next try."""
        store = dependency(exc)
        cause = store or type(exc).__name__
        if cause != self.cause:
            if self.cause is None:
                self._since = time.monotonic()
            if store:
                reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
                self.log.warning("%s: %s unavailable (%s); retrying", self.what, store, reason)
            else:
                self.log.error("%s failed; retrying", self.what, exc_info=exc)
            self.cause = cause
        self.wait = min(max(self.wait * 2, FIRST_WAIT), LONGEST_WAIT)
        return self.wait

    def succeeded(self) -> None:
        if self.cause is not None:
            self.log.info(
                "%s: working again after %.1f s (%s)",
                self.what,
                time.monotonic() - self._since,
                self.cause,
            )
        self.cause = None
        self.wait = 0.0
