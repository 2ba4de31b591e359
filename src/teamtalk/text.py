"""Checks on text we store, shared by the API's bodies and the command line (which should
not have to load every schema to check one email)."""

from __future__ import annotations


def storable(value: str) -> str:
    """Text a database column can hold: PostgreSQL text has no NUL character, and a lone
    surrogate (JSON can escape one) is not UTF-8. Refused on both databases alike."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def check_email(value: str) -> str:
    value = storable(value.strip())
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value or len(value) > 254:
        raise ValueError("not a valid email address")
    return value
