"""Generated requests over every operation of /api/openapi.json, as each role: no answer is
a server error, and answers match the document.

Schemathesis makes the cases from the document: valid ones, half of them with ids of the
seeded rows so they reach the handlers' work, and ones the document rules out, which must
be refused. A real uvicorn answers in this event loop; the cases run in a thread, since
schemathesis and Hypothesis are synchronous. TEAMTALK_FUZZ_SCALE multiplies the number of
cases (1: about 6,000 on each backend, under a minute on a quiet machine).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from teamtalk.models import Role, Status
from teamtalk.services.auth import COOKIE_NAME
from tests.clients import sign_in
from tests.conftest import Backend, LiveServer, harness_with, serving
from tests.history_factories import make_conversation, make_topic

SCALE = float(os.environ.get("TEAMTALK_FUZZ_SCALE", "1"))
EXAMPLES = max(2, round(30 * SCALE))  # per operation, role and mode
SEEDED_IDS = st.integers(min_value=1, max_value=6)
# NUL (PostgreSQL text cannot hold it), a lone surrogate (not UTF-8; JSON can escape one),
# the last code point, a right-to-left override. A URL cannot carry a lone surrogate.
IN_JSON = st.sampled_from(["\x00", "\ud800", "\U0010ffff", "\u202e"])
IN_URL = st.sampled_from(["\x00", "\U0010ffff", "\u202e"])
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Signing out would end the session the rest of a signed-in run needs.
SIGNED_IN_SKIPS = {"POST /api/auth/logout"}


@pytest.fixture
async def live(backend: Backend) -> AsyncIterator[LiveServer]:
    """A live server without the per-user read budgets: spent in a few dozen cases, they
    would leave the history handlers to 429s."""
    unlimited = {"reads_per_minute": 10**6, "reads_burst": 10**6}
    async with harness_with(backend, **unlimited) as harness, serving(harness) as server:
        yield server


@dataclass
class Run:
    """What one role's cases got back."""

    role: str
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    # Per operation: its statuses, to tell the routes closed to this role.
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())

    def share(self, low: int, high: int) -> float:
        hits = sum(n for status, n in self.statuses.items() if low <= status < high)
        return hits / max(self.cases, 1)

    def share_where_allowed(self, low: int, high: int) -> float:
        """As `share`, over the operations this role may use (not all answered 403): more
        routes for other roles do not dilute it."""
        allowed = [c for c in self.by_operation.values() if set(c) != {403}]
        hits = sum(n for c in allowed for status, n in c.items() if low <= status < high)
        return hits / max(sum(sum(c.values()) for c in allowed), 1)


def seeded(case: Case, data: st.DataObject) -> None:
    """Half the time, every id in the case points at a seeded row."""
    if not data.draw(st.booleans(), label="seeded ids"):
        return
    body = case.body if isinstance(case.body, dict) else {}
    for values in (case.path_parameters, case.query, body):
        for key, value in list((values or {}).items()):
            if key.endswith("_id") and isinstance(value, int) and not isinstance(value, bool):
                values[key] = data.draw(SEEDED_IDS, label=key)


def hostile(case: Case, data: st.DataObject) -> None:
    """A quarter of the time, one string of the body or query gets a character that a
    database or codec may choke on; browsers never send them, scripts can."""
    if data.draw(st.integers(0, 3), label="hostile") != 0:
        return
    places: list[tuple[dict[str, Any], str, st.SearchStrategy[str]]] = []
    if isinstance(case.body, dict):
        places += [(case.body, k, IN_JSON) for k, v in case.body.items() if isinstance(v, str)]
    if case.query:
        places += [(case.query, k, IN_URL) for k, v in case.query.items() if isinstance(v, str)]
    if places:
        values, key, chars = data.draw(st.sampled_from(places), label="hostile field")
        at = data.draw(st.integers(0, len(values[key])), label="hostile position")
        values[key] = values[key][:at] + data.draw(chars) + values[key][at:]


def error_code(response: Any) -> str | None:
    if response.status_code < 400:
        return None
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "(not the error shape)"


def fuzz_operation(
    operation: Any, mode: GenerationMode, run: Run, url: str, token: str | None
) -> None:
    http = requests.Session()
    cookies = {COOKIE_NAME: token} if token else {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        # The test command runs the same cases every time; a larger scale explores afresh.
        derandomize=SCALE <= 1,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def cases(case: Case, data: st.DataObject) -> None:
        if mode == GenerationMode.POSITIVE:
            seeded(case, data)
            hostile(case, data)
        response = case.call(
            base_url=url, session=http, headers={"Origin": url}, cookies=cookies, timeout=30
        )
        run.statuses[response.status_code] += 1
        run.operations[operation.label] += 1
        run.by_operation.setdefault(operation.label, Counter())[response.status_code] += 1
        code = error_code(response)
        if code is not None:
            run.codes[code] += 1
        checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS
        case.validate_response(response, checks=checks, headers={"Origin": url})

    try:
        cases()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode == GenerationMode.NEGATIVE, operation.label
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
        run.failures.append(f"{run.role} {mode.value} {operation.label}:\n{exc}")
    finally:
        http.close()


def fuzz(document: dict[str, Any], url: str, tokens: dict[str, str | None]) -> list[Run]:
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {o.label for o in operations}
    assert len(labels) >= 25 and "GET /api/conversations/{conversation_id}" in labels, labels
    runs = []
    for role, token in tokens.items():
        run = Run(role)
        for operation in operations:
            if token is not None and operation.label in SIGNED_IN_SKIPS:
                continue
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz_operation(operation, mode, run, url, token)
        missed = labels - set(run.operations) - (SIGNED_IN_SKIPS if token else set())
        assert not missed, (role, missed)
        runs.append(run)
    return runs


async def seed(live: LiveServer) -> dict[str, str | None]:
    """Users of each role, topics and conversations in most states, all on small ids; the
    session token of each role (None: anonymous). Admin last: its cases change users."""
    harness = live.harness
    agent = await harness.user(Role.AGENT)
    other_agent = await harness.user(Role.AGENT)
    leader = await harness.user(Role.TEAMLEADER)
    other_leader = await harness.user(Role.TEAMLEADER)
    admin = await harness.user(Role.ADMIN)
    topic = await make_topic(harness, "Billing")
    await make_topic(harness, "Shipping")
    for status, who, leaders in [
        (Status.QUEUED, agent, []),
        (Status.ASSIGNED, agent, [leader]),
        (Status.SOLVED, agent, [leader, other_leader]),
        (Status.PENDING, other_agent, [other_leader]),
        (Status.CLOSED, other_agent, [leader]),
    ]:
        lines = [(who, "my refund is late"), *[(lead, "looking into it") for lead in leaders]]
        await make_conversation(harness, who, lines, status=status, topic_id=topic, leaders=leaders)
    return {
        "agent": await sign_in(harness, agent),
        "teamleader": await sign_in(harness, leader),
        "anonymous": None,
        "admin": await sign_in(harness, admin),
    }


async def test_generated_requests_get_no_server_errors(live: LiveServer) -> None:
    tokens = await seed(live)
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.get("/api/openapi.json")
        assert response.status_code == 200
        document = response.json()
    started = time.monotonic()
    runs = await asyncio.to_thread(fuzz, document, live.url, tokens)
    took = time.monotonic() - started
    summary = "\n".join(
        f"{run.role}: {run.cases} cases, {dict(sorted(run.statuses.items()))}, "
        f"{dict(run.codes.most_common(8))}"
        for run in runs
    )
    print(f"\n{sum(run.cases for run in runs)} cases in {took:.0f} s\n{summary}")
    failures = [failure for run in runs for failure in run.failures]
    assert not failures, "\n\n".join(failures)
    assert sum(run.cases for run in runs) >= 1000 * min(SCALE, 1), summary
    for run in runs:
        assert not any(status >= 500 for status in run.statuses), summary
        # The origin check passed every time, so the cases reached the routes behind it.
        assert run.codes["origin_not_allowed"] == 0, summary
        assert run.share(200, 300) > 0 and run.share(400, 500) > 0, summary
        if run.role != "anonymous":
            # Signed in all along: the cases reached the handlers, not only the session check.
            assert run.codes["not_authenticated"] == 0, summary
            assert run.share_where_allowed(200, 300) > 0.08, summary
