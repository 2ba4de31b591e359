"""Login throttling that slows a guesser without locking the real user out.

Three counters, all in Redis, all keyed the same way whether or not the email is an
account (so no answer tells a stranger which emails exist):

- per client address: past `login_max_failures_per_address` failures in the window, that
  address waits the window out;
- per account: past `login_max_failures_per_account` failures, each further attempt must
  wait 1, 2, 4 ... s (capped) after the one before it, from any address, so a guesser
  gets a few attempts an hour instead of thousands;
- per device: a browser that signed in to an account before holds a signed device
  cookie for it (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). The
  account's backoff and the address limit do not apply to it; it has a failure limit of
  its own, past which it is treated like any other browser. A cookie, not the known
  address: it survives NAT, DHCP and proxies, and a stranger behind the same office NAT
  does not share it.

Attempts are counted when they start, not when they fail, so a burst of concurrent
requests cannot all slip in under a limit; a success gives its count back.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from teamtalk.errors import TooManyRequests
from teamtalk.resources import Resources
from teamtalk.settings import Settings

DEVICE_COOKIE = "teamtalk_device"
# Accounts remembered per browser: a shared desk signs in a few people a day.
MAX_DEVICE_ACCOUNTS = 5


@dataclass(frozen=True)
class Attempt:
    """What one sign-in attempt counted, to be given back if it succeeds."""

    email: str
    address_key: str | None  # None when a trusted device skipped the address limit
    device_key: str | None  # None for a browser without a valid device cookie


def backoff_seconds(settings: Settings, failures: int) -> int:
    """The wait after an account's `failures`-th failure: none for the first few, then
    doubling from 1 s up to the cap."""
    extra = failures - settings.login_max_failures_per_account
    if extra <= 0:
        return 0
    return min(1 << min(extra - 1, 40), settings.login_backoff_max_seconds)


async def begin(res: Resources, *, email: str, address: str, devices: str | None) -> Attempt:
    """Count an attempt to sign in as `email`, or raise `too_many_attempts`."""
    redis, keys, settings = res.redis, res.keys, res.settings
    nonce = trusted_device(settings, email, devices)
    if nonce is not None:
        device_key = keys.login_failures_device(nonce)
        used = await _count(redis, device_key, settings.login_account_memory_seconds)
        if used <= settings.login_max_failures_per_account:
            return Attempt(email, None, device_key)
        # Guessed with too often: maybe a stolen cookie, so no longer trusted.

    address_key = keys.login_failures_address(address)
    if await _count(redis, address_key, settings.login_throttle_seconds) > (
        settings.login_max_failures_per_address
    ):
        raise _refusal(await redis.pttl(address_key))

    account_key = keys.login_failures_account(email)
    failures = await _count(
        redis, account_key, settings.login_account_memory_seconds, from_last=True
    )
    wait = backoff_seconds(settings, failures)
    # The first attempt to claim the gate goes ahead and holds it for the wait; any other
    # attempt before it lapses is refused without a password check.
    if wait and not await redis.set(keys.login_gate_account(email), "1", nx=True, ex=wait):
        retry = await redis.pttl(keys.login_gate_account(email))
        async with redis.pipeline(transaction=False) as pipe:
            # A refused attempt guessed nothing.
            _give_back(pipe, account_key, settings.login_account_memory_seconds)
            _give_back(pipe, address_key, settings.login_throttle_seconds)
            await pipe.execute()
        raise _refusal(retry)
    return Attempt(email, address_key, None)


async def succeeded(res: Resources, attempt: Attempt) -> None:
    """The password was right: the account's failures are forgotten, from anywhere."""
    keys = res.keys
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.delete(keys.login_failures_account(attempt.email))
        pipe.delete(keys.login_gate_account(attempt.email))
        if attempt.device_key is not None:
            pipe.delete(attempt.device_key)
        if attempt.address_key is not None:
            _give_back(pipe, attempt.address_key, res.settings.login_throttle_seconds)
        await pipe.execute()


async def clear_account(res: Resources, email: str) -> None:
    """An admin's reset: the account's backoff ends at once."""
    keys = res.keys
    await res.redis.delete(keys.login_failures_account(email), keys.login_gate_account(email))


async def _count(redis: Redis, key: str, seconds: int, *, from_last: bool = False) -> int:
    """One more on `key`, remembered `seconds` after the first of the window (or after the
    latest, so a slow and steady guesser never gets a fresh start)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, seconds, nx=not from_last)
        count, _ = await pipe.execute()
    return int(count)


def _give_back(pipe: Pipeline, key: str, seconds: int) -> None:
    # The key may have expired meanwhile: the TTL keeps a recreated -1 from living on.
    pipe.decr(key)
    pipe.expire(key, seconds, nx=True)


def _refusal(ttl_ms: int) -> TooManyRequests:
    return TooManyRequests(
        "Too many failed sign-in attempts. Try again later.",
        code="too_many_attempts",
        retry_after=max(math.ceil(int(ttl_ms) / 1000), 1),  # -2 if it lapsed meanwhile
    )


# Device cookies: "issued-nonce-signature" per account, several joined by ".". The
# signature binds the email, so a cookie earned on one account vouches for no other,
# and the email itself is not in the cookie.
def _signature(settings: Settings, email: str, issued: str, nonce: str) -> str:
    message = f"login-device\n{email}\n{issued}\n{nonce}".encode()
    secret = settings.resolved_secret_key().encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _entries(devices: str | None) -> list[tuple[str, str, str]]:
    found = []
    for entry in (devices or "").split(".")[: MAX_DEVICE_ACCOUNTS * 2]:
        parts = entry.split("-")
        if len(parts) == 3 and all(parts):
            found.append((parts[0], parts[1], parts[2]))
    return found


def _valid(settings: Settings, email: str, entry: tuple[str, str, str], now: float) -> bool:
    issued, nonce, signature = entry
    if not issued.isdigit() or now - int(issued) > settings.login_device_days * 86400:
        return False
    return hmac.compare_digest(signature, _signature(settings, email, issued, nonce))


def trusted_device(settings: Settings, email: str, devices: str | None) -> str | None:
    """The nonce of this browser's valid device cookie for `email`, if it has one."""
    now = time.time()
    for entry in _entries(devices):
        if _valid(settings, email, entry, now):
            return entry[1]
    return None


def device_cookie(settings: Settings, email: str, devices: str | None) -> str:
    """The cookie to set after `email` signed in: a fresh entry for it first, then the
    other accounts' entries that are still young enough, up to MAX_DEVICE_ACCOUNTS."""
    now = time.time()
    issued, nonce = str(int(now)), secrets.token_hex(12)
    kept = [f"{issued}-{nonce}-{_signature(settings, email, issued, nonce)}"]
    for entry in _entries(devices):
        if len(kept) == MAX_DEVICE_ACCOUNTS:
            break
        issued_at = entry[0]
        if _valid(settings, email, entry, now):
            continue  # this account's older entry, replaced by the fresh one
        if issued_at.isdigit() and now - int(issued_at) <= settings.login_device_days * 86400:
            kept.append("-".join(entry))
    return ".".join(kept)
