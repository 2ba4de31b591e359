"""The contract between the server and the web UI, written out as JSON for code generation.

`python -m teamtalk.contract FOLDER` writes FOLDER/openapi.json (the HTTP API, as served at
/api/openapi.json) and FOLDER/events.json (every server -> client Socket.IO event, from
events.py). scripts/contract generates the web UI's TypeScript types from them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from teamtalk.app import create_app
from teamtalk.events import schema_document
from teamtalk.settings import Settings


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document. Building the app connects to nothing, and the document
    does not depend on the settings: these only keep the environment out of it."""
    with tempfile.TemporaryDirectory(prefix="teamtalk-contract-") as folder:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{folder}/contract.db",
            redis_url="redis://127.0.0.1:6379/0",
            secret_key="contract",
            data_dir=Path(folder),
        )
        document: dict[str, Any] = create_app(settings).api.openapi()
    return document


def write(folder: Path) -> None:
    documents = {"openapi.json": openapi_document(), "events.json": schema_document()}
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        (folder / name).write_text(text, encoding="utf-8")


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m teamtalk.contract FOLDER")
    write(Path(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
