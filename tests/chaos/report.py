"""docs/reliability.md from a chaos run's results (the JSON lines tests/chaos/run.py
appends to TEAMTALK_CHAOS_RESULTS): each fault, what the system promises, the test that
shows it, and the figures of the run.

    python -m tests.chaos.report RESULTS.jsonl docs/reliability.md --command "scripts/chaos"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

EVERY_RUN = (
    "After every fault the audit checks, against the database and Redis: every request "
    "created exists exactly once; no conversation held by two leaders at once and no basket "
    "over capacity at any moment (the conversation_events replayed); nothing stranded (none "
    "queued or assigned after the drain, no routing state left in Redis); every leader's "
    "client shows exactly the basket the database holds; no change the database shows "
    "committed was answered with an error, and no answer of 500 (an outage is answered 503 "
    "with `database_unavailable` or `redis_unavailable`)."
)

# scenario name -> (the fault, what the system promises, the test)
FAULTS: dict[str, tuple[str, str, str]] = {
    "worker SIGKILL": (
        "`teamtalk worker` SIGKILLed right after its assign script, claims in hand (the "
        "product's `TEAMTALK_FAULT=after_assign` hook times it), several times; then the "
        "other worker SIGKILLed at a random moment",
        "a dead worker's claims are committed by another living worker within 5 s",
        "tests/chaos/test_cluster_faults.py::test_worker_sigkill",
    ),
    "server SIGKILL": (
        "each `teamtalk serve --no-worker` SIGKILLed in turn under traffic, back 1 s later; "
        "its leaders reconnect to the other server",
        "every basket matches the database within 5 s of the server being back",
        "tests/chaos/test_cluster_faults.py::test_server_sigkill",
    ),
    "worker SIGSTOP past lease": (
        "a worker frozen (SIGSTOP) while claims wait to commit (the leaders' rows held locked "
        "for a moment), for twice its lease (3 s here), then resumed (SIGCONT)",
        "the other worker takes its claims over within 5 s; the late commit assigns nothing twice",
        "tests/chaos/test_cluster_faults.py::test_worker_sigstop_past_lease",
    ),
    "Redis FLUSHALL": (
        "FLUSHALL on the Valkey under traffic",
        "routing state is rebuilt from the database and every basket matches within 5 s",
        "tests/chaos/test_cluster_faults.py::test_redis_flushall",
    ),
    "Redis SIGKILL + empty restart": (
        "Valkey SIGKILLed, away for the outage, restarted empty on the same address",
        "503 `redis_unavailable` meanwhile; after it, routing resumes and every basket "
        "matches within 5 s",
        "tests/chaos/test_cluster_faults.py::test_redis_killed_restarted_empty",
    ),
    "PostgreSQL stopped and started": (
        "PostgreSQL stopped (`pg_ctl stop -m fast`, every connection cut) for the outage",
        "503 `database_unavailable` meanwhile, nothing half-done; every basket matches within "
        "5 s of it being back",
        "tests/chaos/test_cluster_faults.py::test_postgres_stopped_and_started",
    ),
    "graceful SIGTERM during a burst": (
        "SIGTERM to a server and a worker during a burst (3x the request rate)",
        "both finish what they hold and exit by themselves within 15 s; no request they read "
        "is cut off",
        "tests/chaos/test_cluster_faults.py::test_graceful_sigterm_during_burst",
    ),
    "embedded: server SIGKILL": (
        "the one `teamtalk serve` of the embedded default SIGKILLed, started again",
        "its Valkey goes with it; back, every basket matches within 5 s",
        "tests/chaos/test_embedded_faults.py::test_embedded_server_sigkill",
    ),
    "embedded: its Valkey SIGKILL": (
        "the private Valkey `teamtalk serve` started, SIGKILLed",
        "the server restarts it by itself; every basket matches within 5 s of it being back",
        "tests/chaos/test_embedded_faults.py::test_embedded_valkey_killed",
    ),
    "embedded: SQLite file locked": (
        "another connection holds `BEGIN EXCLUSIVE` on the SQLite file for the outage",
        "requests wait or are answered 503, never 500; nothing lost",
        "tests/chaos/test_embedded_faults.py::test_sqlite_locked",
    ),
    "embedded: graceful SIGTERM during a burst": (
        "SIGTERM to the embedded server during a burst",
        "it finishes what it holds, stops its Valkey and exits within 15 s; no request it read "
        "is cut off",
        "tests/chaos/test_embedded_faults.py::test_embedded_graceful_sigterm",
    ),
}

SHOWN = (
    "creates",
    "submits",
    "answers",
    "assignments",
    "created_to_assigned_s",
    "created_to_leader_screen_s",
    "claim_to_assigned_s",
    "closed_unread",
    "drain_s",
    "reconnects",
    "wall_s",
)


def figure_lines(entry: dict[str, Any]) -> list[str]:
    names = [k for k in entry if k.startswith(("converged_", "valkey_back", "sigterm_"))]
    lines = []
    for name in [*names, *SHOWN]:
        if name in entry:
            lines.append(f"| `{name}` | `{json.dumps(entry[name], default=str)}` |")
    return lines


def render(entries: list[dict[str, Any]], command: str) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    scales = sorted({str(e.get("scale")) for e in entries})
    out = [
        "# Reliability: outages lose nothing and tell the truth",
        "",
        "What Team Talk promises when its parts fail, the chaos test that shows each promise,"
        " and the figures of the last larger run. The suite (`tests/chaos/`) runs the product"
        " as processes: two `teamtalk serve --no-worker` and two `teamtalk worker` on a"
        " PostgreSQL and a Valkey of its own, and the embedded default (one `teamtalk serve`"
        " on SQLite with its private Valkey); team leaders are Socket.IO clients holding their"
        " basket from the server's events and submitting each conversation as solved after"
        " 0.2-2 s over HTTP, agents open requests over HTTP, and every answer is recorded.",
        "",
        EVERY_RUN,
        "",
        f"Produced by `{command}` (scale {', '.join(scales)}) at commit `{commit}` on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores"
        f" (load average {os.getloadavg()[0]:.1f} at the end: a shared machine).",
        "CI runs the same scenarios at a small scale on every push: the plain test run takes"
        " the embedded ones, the run with `TEST_DATABASE_URL` the cluster ones"
        " (`TEAMTALK_CHAOS=all` runs both).",
        "",
        "A graceful stop closes its idle keep-alive connections; a request already on its way"
        " on one is never read, and the client sends it again (RFC 9112, 9.3.1; browsers do;"
        " creates carry a client id and submits answer the current state, so a resend is"
        " safe). `closed_unread` counts those; they are not cut off.",
        "",
        "Not a scenario here: the SQLite file made unreadable. These processes run as root, and"
        " permissions do not reach a file already open. A database file that cannot be opened"
        " is told an outage (503 `database_unavailable`) in"
        " `tests/test_outages.py::test_outages_are_told_from_bugs`, and routing keeps every"
        " invariant through it in the state machine of `tests/test_routing_machine.py`.",
        "",
        "| fault | promise | kept |",
        "|---|---|---|",
    ]
    for entry in entries:
        fault, promise, _ = FAULTS.get(str(entry["scenario"]), (entry["scenario"], "", ""))
        kept = "yes" if not entry["problems"] else f"**no** ({len(entry['problems'])})"
        out.append(f"| {entry['scenario']} | {promise} | {kept} |")
    for entry in entries:
        fault, promise, test = FAULTS.get(str(entry["scenario"]), (entry["scenario"], "", ""))
        out += [
            "",
            f"## {entry['scenario']}",
            "",
            f"- Fault: {fault}.",
            f"- Promise: {promise}.",
            f"- Test: `{test}`.",
        ]
        if entry["problems"]:
            out.append("- Broken:")
            out += [f"  - {p[:400]}" for p in entry["problems"]]
        else:
            out.append("- Every promise kept.")
        out += ["", "| figure | value |", "|---|---|", *figure_lines(entry)]
        if entry.get("faults"):
            out += ["", "Faults, from the start of the run: " + "; ".join(entry["faults"]) + "."]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--command", default="scripts/chaos")
    args = parser.parse_args()
    entries = [json.loads(line) for line in args.results.read_text().splitlines() if line]
    args.out.write_text(render(entries, args.command))
    print(f"wrote {args.out} ({len(entries)} scenarios)")


if __name__ == "__main__":
    main()
