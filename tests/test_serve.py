"""`teamtalk serve` on the embedded default, as a newcomer runs it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from teamtalk.services.demo import DEMO_PASSWORD, demo_logins


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="tt-serve-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(TEAMTALK_DATA_DIR=str(data_dir), TEAMTALK_LOG_FORMAT="text")
    return subprocess.Popen(
        [sys.executable, "-m", "teamtalk", "serve", "--port", str(port)],
        cwd=data_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            if httpx.get(f"{url}/readyz", timeout=1).json().get("status") == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server never became ready")


def valkey_pid(data_dir: Path) -> int:
    return int((data_dir / "valkey" / "valkey.pid").read_text())


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False


def login(url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/auth/login",
        json={"email": email, "password": password},
        headers={"Origin": url},
    )


def test_serve_runs_keeps_data_and_leaves_nothing_behind(data_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin = next(x for x in demo_logins() if x.role == "admin")

    proc = start(data_dir, port)
    wait_ready(url, proc)
    signed_in = login(url, admin.email, DEMO_PASSWORD)
    assert signed_in.status_code == 200
    cookies = signed_in.cookies
    topic = httpx.post(
        f"{url}/api/topics",
        json={"name": "Kept across restarts"},
        cookies=cookies,
        headers={"Origin": url},
    )
    assert topic.status_code == 201
    assert httpx.get(url).text.startswith("<!doctype html>")
    pid = valkey_pid(data_dir)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert url in output
    assert all(x.email in output for x in demo_logins()) and DEMO_PASSWORD in output
    assert gone(pid), "Valkey outlived Ctrl-C"

    proc = start(data_dir, port)
    wait_ready(url, proc)
    again = login(url, admin.email, DEMO_PASSWORD)
    assert again.status_code == 200
    names = [
        t["name"] for t in httpx.get(f"{url}/api/topics", cookies=again.cookies).json()["topics"]
    ]
    assert "Kept across restarts" in names
    pid = valkey_pid(data_dir)
    proc.terminate()  # SIGTERM, as a service manager stops it
    proc.communicate(timeout=30)
    assert gone(pid), "Valkey outlived SIGTERM"


def test_a_crashed_server_leaves_no_valkey(data_dir: Path) -> None:
    port = free_port()
    proc = start(data_dir, port)
    wait_ready(f"http://127.0.0.1:{port}", proc)
    pid = valkey_pid(data_dir)
    proc.kill()
    proc.communicate(timeout=30)
    assert gone(pid), "Valkey outlived a crash of teamtalk"


def test_a_killed_valkey_is_restarted_and_requests_go_on(data_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    agent = next(x for x in demo_logins() if x.role == "agent")
    proc = start(data_dir, port)
    # Read as it comes: a full pipe would block the server's logging, and the server.
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        with proc.stdout:
            lines.extend(proc.stdout)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_ready(url, proc)
        signed_in = login(url, agent.email, DEMO_PASSWORD)
        assert signed_in.status_code == 200
        answers: list[tuple[int, str | None]] = []
        done = threading.Event()

        def client() -> httpx.Client:
            return httpx.Client(
                base_url=url, cookies=signed_in.cookies, headers={"Origin": url}, timeout=10
            )

        def create(http: httpx.Client) -> int:
            r = http.post("/api/conversations", json={"message": "Help, please"})
            answers.append((r.status_code, r.json()["error"]["code"] if r.is_error else None))
            return r.status_code

        def keep_creating() -> None:
            with client() as http:
                while not done.is_set():
                    create(http)

        creators = [threading.Thread(target=keep_creating) for _ in range(4)]
        for creator in creators:
            creator.start()
        try:
            while len(answers) < 8:
                time.sleep(0.01)
            old = valkey_pid(data_dir)
            os.kill(old, signal.SIGKILL)
            killed = time.monotonic()
            with client() as http:
                while (ready := http.get("/readyz")).status_code != 200:
                    assert time.monotonic() - killed < 5, ready.text
                    time.sleep(0.05)
                time.sleep(0.5)  # creates go on meanwhile
                done.set()
                for creator in creators:
                    creator.join()
                assert valkey_pid(data_dir) != old
                assert [create(http) for _ in range(3)] == [201, 201, 201]
        finally:
            done.set()
            for creator in creators:
                creator.join()
        assert set(answers) <= {(201, None), (503, "redis_unavailable")}, answers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join()
    output = "".join(lines)
    assert "embedded Valkey" in output and "died: killed by SIGKILL" in output, output
    assert "embedded Valkey is back" in output, output
    assert "unhandled error" not in output, output  # no request failed with a 500
