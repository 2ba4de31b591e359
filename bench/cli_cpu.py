"""What the command line costs to start, as CPU time of the whole process.

    .venv/bin/python bench/cli_cpu.py [--runs N]

Runs, N times each (default 5) after one unmeasured warm-up: `python -c pass` (the
interpreter's own start, the baseline), `teamtalk --help`, `teamtalk users create` (one new
user each run, in a data dir of this run's, migrated once beforehand) and `teamtalk db
upgrade` (a fresh data dir each run: the whole schema built). Reported: the median of user +
system CPU from os.wait4, which a busy machine inflates far less than wall time, and its
ratio to the baseline; and one argon2 hash's CPU in this process, which `users create`
spends on purpose.

The commands run this checkout's src/ on the embedded default (SQLite, no Redis), with no
.env in the working directory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher

SRC = Path(__file__).resolve().parents[1] / "src"
PASSWORD = "bench-password"


def cpu_seconds(args: list[str], env: dict[str, str], cwd: Path) -> float:
    """User + system CPU of one child process, from the kernel's accounting at its exit."""
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} exited with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env["TEAMTALK_DATA_DIR"] = str(data_dir)
    return env


def hash_seconds() -> float:
    hasher = PasswordHasher()
    before = resource.getrusage(resource.RUSAGE_SELF)  # argon2's threads count here too
    hasher.hash(PASSWORD)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each command")
    runs = parser.parse_args().runs
    teamtalk = [sys.executable, "-m", "teamtalk"]

    with tempfile.TemporaryDirectory(prefix="ttbench-cli-") as tmp:
        work = Path(tmp)
        users_dir = work / "users"
        env = environment(users_dir)
        cpu_seconds([*teamtalk, "db", "upgrade"], env, work)
        created = iter(range(runs + 1))

        def create() -> list[str]:
            email = f"bench{next(created)}@example.com"
            options = ["--email", email, "--name", "Bench", "--role", "agent"]
            return [*teamtalk, "users", "create", *options, "--password", PASSWORD]

        fresh = iter(range(runs + 1))

        def upgrade_env() -> dict[str, str]:
            return environment(work / f"fresh{next(fresh)}")

        cases: list[tuple[str, Callable[[], list[str]], Callable[[], dict[str, str]]]] = [
            ("python -c pass", lambda: [sys.executable, "-c", "pass"], lambda: env),
            ("teamtalk --help", lambda: [*teamtalk, "--help"], lambda: env),
            ("teamtalk users create", create, lambda: env),
            ("teamtalk db upgrade", lambda: [*teamtalk, "db", "upgrade"], upgrade_env),
        ]
        medians: dict[str, float] = {}
        for name, args, case_env in cases:
            cpu_seconds(args(), case_env(), work)  # warm-up: compiled bytecode, page cache
            times = [cpu_seconds(args(), case_env(), work) for _ in range(runs)]
            medians[name] = statistics.median(times)
            print(f"{name}: {' '.join(f'{t:.3f}' for t in times)}", file=sys.stderr)
        hashes = statistics.median(hash_seconds() for _ in range(runs))

    baseline = medians["python -c pass"]
    print(f"Whole-process CPU (user + system), median of {runs}; load {os.getloadavg()[0]:.1f}")
    print(f"{'command':<28}{'CPU s':>8}{'x baseline':>12}")
    for name, seconds in medians.items():
        print(f"{name:<28}{seconds:>8.3f}{seconds / baseline:>12.1f}")
    print(f"{'one argon2 hash':<28}{hashes:>8.3f}")
    print(f"{'users create minus hash':<28}{medians['teamtalk users create'] - hashes:>8.3f}")


if __name__ == "__main__":
    main()
