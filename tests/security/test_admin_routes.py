"""Every supervisor route (monitoring, reports, admin overrides) refuses agents and team
leaders. The routes are found by walking the app, so routes added later are covered."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.routing import APIRoute

from teamtalk.models import Role
from tests.conftest import Harness

PREFIXES = ("/api/monitoring", "/api/reports", "/api/admin")


def walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every API route, into included routers (FastAPI runs
    them in place, keeping their prefix in the include context)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from walk(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, prefix + route.path


def supervisor_routes(harness: Harness) -> list[tuple[str, str]]:
    return sorted({(m, p) for m, p in walk(harness.fastapi.routes) if p.startswith(PREFIXES)})


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_agents_and_leaders_get_403_on_every_supervisor_route(harness: Harness) -> None:
    routes = supervisor_routes(harness)
    assert routes, "no route found under " + ", ".join(PREFIXES)
    assert ("GET", "/api/monitoring/overview") in routes  # the walk sees included routers
    for role in (Role.AGENT, Role.TEAMLEADER):
        user = await harness.user(role)
        async with harness.signed_in(user) as client:
            for method, path in routes:
                body = {} if method in ("POST", "PUT", "PATCH") else None
                response = await client.request(method, concrete(path), json=body)
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["error"]["code"] == "forbidden", (role, method, path)
    async with harness.client() as anonymous:
        for method, path in routes:
            response = await anonymous.request(method, concrete(path))
            assert response.status_code == 401, (method, path, response.text)


async def test_admins_pass_the_check(harness: Harness) -> None:
    """The refusals above are the role check's: an admin's reads are not refused (a route
    may still want parameters: 422 is not a refusal)."""
    admin = await harness.user(Role.ADMIN)
    async with harness.signed_in(admin) as client:
        for method, path in supervisor_routes(harness):
            if method == "GET" and "{" not in path:
                response = await client.get(path)
                assert response.status_code not in (401, 403), (path, response.text)
