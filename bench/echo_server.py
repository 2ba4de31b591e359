"""The BASELINE of the messaging bench: a bare python-socketio relay. Not part of Team Talk.

    .venv/bin/python bench/echo_server.py --port 8001 --redis-url redis://... [--channel C]

The same stack as `teamtalk serve` (uvicorn with the same options, an ASGI
`socketio.AsyncServer` on an `AsyncRedisManager`), with nothing else: no database, no
session check, no rate limit, no validation. A socket names its user in the query string
(`&user=<id>`) and is put in the room `user:<id>`. `send_message`
`{conversation_id, client_id, body, to}` emits `new_message` `{conversation_id, message}`
to the rooms Team Talk emits it to (`conversation:<id>`, the sender's `user:<id>` and that
of the user `to`: the two sides of the conversation, each socket once), and acks
`{message}`; the message has the fields of Team Talk's MessageOut.
So the bench can put the cost of storing and authorizing a message next to the cost of the
Socket.IO delivery itself.
"""

from __future__ import annotations

import argparse
import itertools
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio

from teamtalk.logs import JsonFormatter
from teamtalk.serving import run, server_config
from teamtalk.settings import Settings


def create_app(redis_url: str, channel: str) -> Any:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins="*",
        max_http_buffer_size=64 * 1024,
        logger=False,
        engineio_logger=False,
    )
    ids = itertools.count(1)
    seqs: dict[int, int] = {}

    async def connect(sid: str, environ: dict[str, Any], _auth: Any = None) -> None:
        user = parse_qs(environ.get("QUERY_STRING", "")).get("user")
        if user:
            user_id = int(user[0])
            await sio.save_session(sid, {"user_id": user_id})
            await sio.enter_room(sid, f"user:{user_id}")

    async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        state = await sio.get_session(sid)
        sender = state.get("user_id")
        conversation_id = int(data["conversation_id"])
        seqs[conversation_id] = seq = seqs.get(conversation_id, 1) + 1
        message = {
            "id": next(ids),
            "conversation_id": conversation_id,
            "seq": seq,
            "sender_id": sender,
            "sender_name": f"User {sender}",
            "kind": "user",
            "body": data["body"],
            "client_id": data["client_id"],
            "created_at": datetime.now(UTC).isoformat(),
        }
        rooms = [f"conversation:{conversation_id}", f"user:{sender}", f"user:{int(data['to'])}"]
        event = {"conversation_id": conversation_id, "message": message}
        await sio.emit("new_message", event, to=rooms)
        return {"message": message}

    sio.on("connect", connect)
    sio.on("send_message", send_message)
    return socketio.ASGIApp(sio, other_asgi_app=ready, socketio_path="socket.io")


async def ready(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Every other path: 200 "ok" (the bench waits for it before connecting)."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--channel", default="echo-socketio")
    args = parser.parse_args()
    # JSON lines on stderr at WARNING, as Team Talk logs under the bench.
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    # The uvicorn config `teamtalk serve` runs with.
    settings = Settings(host=args.host, port=args.port)
    run(server_config(create_app(args.redis_url, args.channel), settings))


if __name__ == "__main__":
    main()
