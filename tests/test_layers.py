"""The floor plan of src/teamtalk: every module stands on one floor and imports only from
its own floor or the ones below, so a request's way through the code runs downward."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# From the top down. A module belongs to the floor of the longest name that prefixes it.
FLOORS: list[tuple[str, set[str]]] = [
    (
        "entry points",
        {"__main__", "cli", "app", "worker", "contract", "stats", "simulate", "simulate_people"},
    ),
    ("edges", {"api", "sockets", "socket_server", "middleware", "apidocs", "headers", "serving"}),
    ("services", {"services"}),
    ("what services are handed", {"resources", "events"}),
    ("delivery and routing", {"realtime", "routing"}),
    (
        "ground",
        {
            "db",
            "models",
            "schemas",
            "settings",
            "errors",
            "failures",
            "ratelimit",
            "logs",
            "metrics",
            "datadir",
            "embedded",
            "redis_pool",
            "sqlite_direct",
            "migrations",
            "roles",
            "text",
        },
    ),
]


def modules(src: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in sorted((src / "teamtalk").rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path) -> set[str]:
    """Every teamtalk module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return {n for n in names if n == "teamtalk" or n.startswith("teamtalk.")}


def floor_of(name: str) -> int | None:
    """The floor's index (0 is the top), or None for the package itself and unplaced ones."""
    parts = name.split(".")[1:]
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        for index, (_, members) in enumerate(FLOORS):
            if prefix in members:
                return index
    return None


def upward_imports(known: dict[str, Path]) -> list[str]:
    found = []
    for name, path in known.items():
        here = floor_of(name)
        if here is None:
            continue
        for target in imported(name, path):
            there = floor_of(target) if target in known else None  # x.name may be no module
            if there is not None and there < here:
                found.append(f"{name} ({FLOORS[here][0]}) -> {target} ({FLOORS[there][0]})")
    return sorted(found)


def test_every_module_has_a_floor() -> None:
    unplaced = [n for n in modules() if n != "teamtalk" and floor_of(n) is None]
    assert not unplaced, f"give these a floor in FLOORS: {unplaced}"


def test_no_import_runs_up_a_floor() -> None:
    upward = upward_imports(modules())
    assert not upward, "imports that run up a floor:\n" + "\n".join(upward)


def test_routing_stands_on_its_own() -> None:
    """Redis routing is keys, the engine and its Lua scripts: it imports nothing else of ours."""
    known = modules()
    outside = {
        f"{name} -> {target}"
        for name, path in known.items()
        if name.startswith("teamtalk.routing")
        for target in imported(name, path)
        if target in known and not target.startswith("teamtalk.routing")
    }
    assert not outside, sorted(outside)


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """On a tree of three modules: a relative import from the ground floor up to a service,
    and one inside a function from routing up to the worker, are both caught."""
    package = tmp_path / "teamtalk"
    (package / "services").mkdir(parents=True)
    (package / "routing").mkdir()
    for init in (package, package / "services", package / "routing"):
        (init / "__init__.py").write_text("")
    (package / "worker.py").write_text("")
    (package / "services" / "access.py").write_text("from teamtalk.models import Base\n")
    (package / "models.py").write_text("from .services.access import Actor\n")
    (package / "routing" / "engine.py").write_text(
        "def later():\n    from teamtalk import worker\n"
    )
    assert upward_imports(modules(tmp_path)) == [
        "teamtalk.models (ground) -> teamtalk.services.access (services)",
        "teamtalk.routing.engine (delivery and routing) -> teamtalk.worker (entry points)",
    ]
