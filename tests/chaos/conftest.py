"""Fixtures of the chaos suite: our own PostgreSQL for the session, a Valkey and a stack
per scenario; which stacks run (tests/chaos/scale.py) decided at collection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.chaos import scale
from tests.chaos.servers import Postgres, Valkey
from tests.chaos.stack import ClusterStack, EmbeddedStack, create_database


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scenarios of a stack this run does not choose are deselected (not skipped): the
    plain run takes the embedded default, the run with TEST_DATABASE_URL the cluster."""
    chosen = scale.stacks()
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("chaos")
        if marker is None or marker.args[0] in chosen:
            kept.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def valkey() -> Iterator[Valkey]:
    server = Valkey()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def chaos_scale() -> scale.Scale:
    return scale.current()


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Environment overrides for the cluster's processes; a scenario may add to it before
    asking for `cluster`."""
    return {}


@pytest.fixture
async def cluster(
    postgres: Postgres, valkey: Valkey, cluster_env: dict[str, str]
) -> AsyncIterator[ClusterStack]:
    database = f"chaos_{uuid.uuid4().hex[:10]}"
    await create_database(postgres, database)
    yield ClusterStack(postgres, valkey, database, cluster_env)
    if not postgres.running():  # a scenario that stopped it failed before starting it again
        postgres.start()


@pytest.fixture
def embedded() -> EmbeddedStack:
    return EmbeddedStack({})
