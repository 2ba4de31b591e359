"""The embedded default's data directory is private: created so, and tightened at start."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from teamtalk import db
from teamtalk.services.demo import DEMO_PASSWORD, demo_logins
from tests.test_serve import free_port, login, wait_ready

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX modes")


@pytest.fixture
def base() -> Iterator[Path]:
    # Short: the private Valkey's unix socket lives inside.
    folder = Path(tempfile.mkdtemp(prefix="tt-dd-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start(data_dir: Path, port: int, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(TEAMTALK_DATA_DIR=str(data_dir), TEAMTALK_LOG_FORMAT="text")
    env.pop("TEAMTALK_SECRET_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "teamtalk", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        umask=0o022,  # the usual one, which makes files world-readable
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def open_to_others(root: Path) -> dict[str, str]:
    found = {str(root): oct(mode(root))} if mode(root) & 0o077 else {}
    for path in root.rglob("*"):
        if not path.is_symlink() and mode(path) & 0o077:
            found[str(path.relative_to(root))] = oct(mode(path))
    return found


EXPECTED = [
    "teamtalk.db",
    "teamtalk.db-wal",
    "teamtalk.db-shm",
    "secret_key",
    "valkey/password",
    "valkey/valkey.conf",
    "valkey/valkey.log",
    "valkey/valkey.pid",
    "valkey/appendonlydir",
]


@contextmanager
def serving(data_dir: Path, port: int, cwd: Path) -> Iterator[list[str]]:
    """A running `teamtalk serve`; the list gets its output once it has stopped."""
    output: list[str] = []
    proc = start(data_dir, port, cwd)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc)
        yield output
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        output.append(proc.communicate(timeout=30)[0])
    assert proc.returncode == 0, output[0]


def test_serve_keeps_the_data_dir_private(base: Path) -> None:
    data_dir = base / "data"  # made by teamtalk serve
    port = free_port()
    admin = next(x for x in demo_logins() if x.role == "admin")

    with serving(data_dir, port, base):
        response = login(f"http://127.0.0.1:{port}", admin.email, DEMO_PASSWORD)
        assert response.status_code == 200  # makes the secret, writes to the WAL
        for name in EXPECTED:
            assert (data_dir / name).exists(), name
        assert list((data_dir / "valkey" / "appendonlydir").iterdir())
        assert open_to_others(data_dir) == {}
        assert mode(data_dir) == 0o700 and mode(data_dir / "teamtalk.db") == 0o600

    # As an older version, a copy or an unzip would have left it.
    for path in [data_dir, *data_dir.rglob("*")]:
        if not path.is_symlink() and not path.is_socket():
            path.chmod(0o755 if path.is_dir() else 0o644)
    with serving(data_dir, port, base) as output:
        assert open_to_others(data_dir) == {}
    for name in ("teamtalk.db", "secret_key", "password", "appendonlydir"):
        assert any(
            "WARNING" in line and name in line and "tightened" in line
            for line in output[0].splitlines()
        ), (name, output[0])
    assert open_to_others(data_dir) == {}


def test_a_sqlite_database_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "x.db"
    old = os.umask(0o022)
    try:

        async def use() -> None:
            engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            await engine.dispose()

        asyncio.run(use())
        # A connection still open keeps the -wal and -shm files.
        kept = sqlite3.connect(path)
        kept.execute("INSERT INTO t VALUES (2)")
        kept.commit()
        try:
            assert mode(path) == 0o600
            for suffix in ("-wal", "-shm"):
                assert mode(path.with_name(path.name + suffix)) == 0o600, suffix
            assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
        finally:
            kept.close()

        path.chmod(0o644)
        asyncio.run(use())
        assert mode(path) == 0o600
    finally:
        os.umask(old)
