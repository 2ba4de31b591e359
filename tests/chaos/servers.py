"""The PostgreSQL and Valkey servers the suite owns: started in directories of its own, so
it may stop, kill, flush and restart them. Nothing here touches a server it did not start."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from teamtalk.embedded import find_server_binary

PG_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Postgres:
    """A PostgreSQL cluster of our own (trust auth, loopback, a free port). initdb refuses
    to run as root, so as root the cluster runs as the `postgres` system user."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(f"the chaos suite needs PostgreSQL 15 binaries in {PG_BIN}")
        self.dir = Path(tempfile.mkdtemp(prefix="tt-chaos-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(
            *["initdb", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"],
            str(self.data),
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = self.dir / "postgres.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends every connection and shuts down cleanly; `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(PG_BIN / tool), *args],
            user=self.user,
            cwd=self.dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


class Valkey:
    """A Valkey of our own on a loopback port, without persistence: restarted, it is empty
    (the fault the suite wants: Redis back with nothing in it)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tt-chaos-vk-", dir="/tmp"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        options = f"--port {self.port} --bind 127.0.0.1 --appendonly no --dir {self.dir}"
        options += f" --logfile {self.dir / 'valkey.log'}"
        self.proc = subprocess.Popen(
            [str(find_server_binary()), *options.split(), "--save", ""],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with redis.Redis.from_url(self.url, socket_connect_timeout=1) as client:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Valkey on port {self.port} did not start")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: everything it held is gone."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def flushall(self) -> None:
        with redis.Redis.from_url(self.url) as client:
            client.flushall()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
