"""A socket client that emits one event many times as fast as it can, in a process of its
own, and prints how each was answered and whether the server closed the socket (JSON): the
tests' one-user flood.

    python -m tests.security.flood_client URL COOKIE EVENT PAYLOAD_JSON COUNT
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from typing import Any

import socketio

ACK_WAIT = 60.0


async def flood(url: str, cookie: str, event: str, payload: Any, count: int) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, headers={"Cookie": cookie}, transports=["websocket"])
    answers: Counter[str] = Counter()
    done = asyncio.Event()
    closed = False
    started = time.monotonic()

    def ended(*_: Any) -> None:
        nonlocal closed
        closed = True
        done.set()

    client.on("disconnect", ended)

    def answered(data: Any = None, *_: Any) -> None:
        error = data.get("error") if isinstance(data, dict) else None
        answers[error["code"] if error else "ok"] += 1
        if sum(answers.values()) == count:
            done.set()

    for _ in range(count):
        if closed:
            break
        await client.emit(event, payload, callback=answered)
    with contextlib.suppress(TimeoutError):  # the missing ones are counted
        await asyncio.wait_for(done.wait(), ACK_WAIT)
    seconds = time.monotonic() - started
    await client.disconnect()
    return {
        "answers": dict(answers),
        "missing": count - sum(answers.values()),
        "closed": closed,  # by the server
        "seconds": seconds,
    }


def main() -> None:
    url, cookie, event, payload, count = sys.argv[1:]
    print(json.dumps(asyncio.run(flood(url, cookie, event, json.loads(payload), int(count)))))


if __name__ == "__main__":
    main()
