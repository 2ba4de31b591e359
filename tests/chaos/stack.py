"""Team Talk as processes: `teamtalk serve` and `teamtalk worker` started, killed, stopped
and restarted by the scenarios, on a database prepared with signed-in people.

Two shapes: the cluster (two `serve --no-worker` and two `worker` on our PostgreSQL and
Valkey) and the embedded default (one `teamtalk serve` on SQLite with its own Valkey).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import text

from teamtalk import db
from teamtalk.models import Presence, Role, Topic, User, utcnow
from teamtalk.models import Session as AuthSession
from teamtalk.routing.keys import Keys
from teamtalk.services.auth import COOKIE_NAME, hash_token
from teamtalk.settings import normalize_database_url
from tests.chaos.servers import Postgres, Valkey, free_port

PREFIX = "chaos:"  # TEAMTALK_REDIS_PREFIX of the cluster: on our own Valkey
CAPACITY = 4
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SRC = Path(__file__).resolve().parents[2] / "src"


@dataclass(frozen=True)
class Person:
    user_id: int
    token: str  # the session cookie's value

    @property
    def cookie(self) -> str:
        return f"{COOKIE_NAME}={self.token}"


@dataclass
class People:
    leaders: list[Person]
    agents: list[Person]
    topic_id: int


class Process:
    """One `python -m teamtalk ...`; its output in a log file beside the run."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.args, self.env, self.cwd = name, args, env, cwd
        self.log = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **extra_env: str) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n=== start {self.starts} {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "teamtalk", *self.args],
                env=self.env | extra_env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    async def kill(self) -> None:
        self.signal(signal.SIGKILL)
        await self.wait()

    async def wait(self, seconds: float | None = None) -> int | None:
        if self.proc is None:
            return None
        return await asyncio.to_thread(self.proc.wait, seconds)

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return await self.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            await self.kill()
            return None

    def lines(self) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def errors_logged(self) -> int:
        """Log entries at ERROR or CRITICAL, and tracebacks printed as text."""
        return sum(1 for line in self.lines() if line_level(line) in ("error", "critical"))

    def digest(self, top: int = 6) -> str:
        """Its most frequent warnings and errors, each with the exception behind it."""
        seen: Counter[str] = Counter()
        for line in self.lines():
            if line_level(line) in ("warning", "error", "critical"):
                seen[line_gist(line)] += 1
        exits = [line for line in self.lines() if line.startswith("=== ")]
        shown = [f"    {n:>5} x {gist}" for gist, n in seen.most_common(top)]
        return "\n".join([f"  {self.name}: {', '.join(exits)}", *shown])


def line_level(line: str) -> str:
    if line.startswith("Traceback"):
        return "error"
    if not line.startswith("{"):
        return "text"
    try:
        return str(json.loads(line).get("level", "text"))
    except ValueError:
        return "text"


def line_gist(line: str) -> str:
    """level, logger, message, and the last line of the traceback, shortened."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line[:160]
    message = str(entry.get("message", "")).strip().splitlines()
    traceback = str(entry.get("traceback", "")).strip().splitlines()
    cause = traceback[-1] if traceback else (message[-1] if len(message) > 1 else "")
    return f"{entry.get('level')} {entry.get('logger')}: {message[0][:80] if message else ''}" + (
        f" ({cause[:140]})" if cause else ""
    )


class Stack:
    """The product under test, in a run directory of its own."""

    def __init__(self, name: str, database_url: str, env_overrides: dict[str, str]) -> None:
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"tt-chaos-{name}-", dir="/tmp"))
        self.database_url = database_url
        self.secret = secrets.token_urlsafe(32)
        self.env_overrides = env_overrides
        self.servers: list[Process] = []
        self.workers: list[Process] = []
        self.urls: list[str] = []

    @property
    def redis_url(self) -> str:
        raise NotImplementedError

    @property
    def keys(self) -> Keys:
        raise NotImplementedError

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TEAMTALK_", "TEST_")) and k not in ("DATABASE_URL", "REDIS_URL")
        }
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = f"{SRC}{os.pathsep}{path}" if path else str(SRC)
        return (
            env
            | {
                "TEAMTALK_SECRET_KEY": self.secret,
                "TEAMTALK_DATA_DIR": str(self.dir / "data"),
                "TEAMTALK_LOG_FORMAT": "json",
                "TEAMTALK_LOG_LEVEL": "WARNING",
                # Simulated people come from one address, at a pace no person keeps up.
                "TEAMTALK_SOCKET_EVENTS_PER_MINUTE": "100000",
                "TEAMTALK_READS_PER_MINUTE": "100000",
                "TEAMTALK_READS_BURST": "1000",
                "TEAMTALK_MESSAGES_PER_MINUTE": "100000",
                "TEAMTALK_STATUS_CHANGES_PER_MINUTE": "1000",
            }
            | self.env_overrides
        )

    async def prepare(self, leaders: int, agents: int) -> People:
        """The schema by the migrations, then people with a sign-in each and one topic."""
        engine = db.create_engine(normalize_database_url(self.database_url))
        try:
            await db.upgrade(engine)
            async with db.sessionmaker(engine)() as session:
                now = utcnow()
                roles = [Role.TEAMLEADER] * leaders + [Role.AGENT] * agents
                users = [
                    User(
                        email=f"{role.value}{i}@chaos.invalid",
                        display_name=f"Chaos {role.value} {i}",
                        role=role.value,
                        password_hash="-",
                        capacity=CAPACITY,
                        is_active=True,
                        presence=Presence.OFFLINE.value,
                    )
                    for i, role in enumerate(roles)
                ]
                topic = Topic(name="chaos")
                session.add_all([*users, topic])
                await session.flush()
                people = []
                for user in users:
                    token = secrets.token_urlsafe(32)
                    session.add(
                        AuthSession(
                            token_hash=hash_token(token, self.secret),
                            user_id=user.id,
                            expires_at=now + timedelta(days=1),
                        )
                    )
                    people.append(Person(user.id, token))
                topic_id = topic.id
                await session.commit()
        finally:
            await engine.dispose()
        return People(people[:leaders], people[leaders:], topic_id)

    def start_all(self) -> None:
        for proc in [*self.servers, *self.workers]:
            proc.start()

    async def ready(self, index: int) -> None:
        """Until server `index` answers /readyz with 200."""
        server, url = self.servers[index], self.urls[index]
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                if not server.alive():
                    raise RuntimeError(f"{server.name} exited:\n\n{server.digest()}")
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{server.name} not ready in {READY_TIMEOUT:g} s")
                await asyncio.sleep(0.1)

    async def all_ready(self) -> None:
        await asyncio.gather(*(self.ready(i) for i in range(len(self.servers))))

    async def stop_all(self) -> None:
        await asyncio.gather(*(p.stop() for p in [*self.servers, *self.workers]))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(p.digest() for p in self.processes)

    @property
    def processes(self) -> list[Process]:
        return [*self.servers, *self.workers]


class ClusterStack(Stack):
    """Two `teamtalk serve --no-worker` and two `teamtalk worker` on our PostgreSQL (a new
    database) and our Valkey."""

    def __init__(
        self, postgres: Postgres, valkey: Valkey, database: str, env: dict[str, str]
    ) -> None:
        super().__init__("cluster", postgres.url(database), env)
        self.postgres, self.valkey = postgres, valkey
        common = self.base_env() | {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": valkey.url,
            "TEAMTALK_REDIS_PREFIX": PREFIX,
        }
        for i in range(2):
            port = free_port()
            self.urls.append(f"http://127.0.0.1:{port}")
            args = ["serve", "--no-worker", "--no-demo", "--port", str(port)]
            self.servers.append(Process(f"server{i}", args, common, self.dir))
        for i in range(2):
            self.workers.append(Process(f"worker{i}", ["worker"], common, self.dir))

    @property
    def redis_url(self) -> str:
        return self.valkey.url

    @property
    def keys(self) -> Keys:
        return Keys(PREFIX)


class EmbeddedStack(Stack):
    """One `teamtalk serve` on the embedded default: SQLite in its data dir, and the
    private Valkey it starts itself (its worker inside)."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("embedded", "", env)
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(mode=0o700)
        self.database_url = f"sqlite:///{self.data_dir / 'teamtalk.db'}"
        port = free_port()
        self.urls.append(f"http://127.0.0.1:{port}")
        args = ["serve", "--no-demo", "--port", str(port)]
        self.servers.append(Process("server0", args, self.base_env(), self.dir))

    @property
    def database_file(self) -> Path:
        return self.data_dir / "teamtalk.db"

    @property
    def valkey_dir(self) -> Path:
        return self.data_dir / "valkey"

    @property
    def redis_url(self) -> str:
        """The URL of the Valkey `teamtalk serve` started (its password and socket)."""
        password = (self.valkey_dir / "password").read_text().strip()
        return f"unix://:{password}@{self.valkey_dir / 'valkey.sock'}?db=0"

    @property
    def keys(self) -> Keys:
        return Keys("")

    async def redis_answers(self) -> bool:
        try:
            client = Redis.from_url(self.redis_url, socket_timeout=1)
        except OSError:
            return False
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    def valkey_pid(self) -> int | None:
        try:
            return int((self.valkey_dir / "valkey.pid").read_text().strip())
        except (OSError, ValueError):
            return None


async def create_database(postgres: Postgres, name: str) -> None:
    engine = db.create_engine(normalize_database_url(postgres.url()), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
