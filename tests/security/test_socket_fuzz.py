"""Every socket event, fuzzed: any payload gets an ack, never an internal error (issue 8,
finding 4). Payloads are either anything JSON can carry or the event's own shape with each
field drawn from far outside its range."""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teamtalk.models import Role
from tests.clients import Probe, connected, request, sign_in
from tests.conftest import Backend, LiveServer, harness_with, serving

EXAMPLES = 300 * int(os.environ.get("TEAMTALK_FUZZ_SCALE", "1"))
EVENTS = (
    "set_status",
    "join_conversation",
    "leave_conversation",
    "send_message",
    "mark_read",
    "typing",
    "sync",
    "basket_ids",
    "follow_history",
)
# Budgets out of the way: the fuzz is after the handlers, the budgets have their own tests.
UNLIMITED = {
    "socket_events_per_minute": 10**7,
    "reads_burst": 10**7,
    "messages_per_minute": 10**7,
    "status_changes_per_minute": 10**7,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
huge = st.integers(min_value=2**63 - 2, max_value=2**70) | st.integers(max_value=0)


def field(real: list[int]) -> st.SearchStrategy[Any]:
    return st.sampled_from(real) | huge | st.integers(-5, 50) | json_values


def shaped(real: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    ids = field(real)
    return st.fixed_dictionaries(
        {},
        optional={
            "conversation_id": ids,
            "seq": ids,
            "status": st.sampled_from(["online", "away", "offline", "busy"]) | json_values,
            "client_id": st.text(max_size=80) | json_values,
            "body": st.text(max_size=300) | json_values,
            "since": st.lists(
                st.fixed_dictionaries({}, optional={"conversation_id": ids, "seq": ids})
                | json_values,
                max_size=120,
            )
            | json_values,
        },
    )


def valid(event: str, real: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    """Payloads of the event's own shape, mostly in range: these reach the handlers."""
    ids = st.sampled_from(real) | st.integers(1, 20)
    seqs = st.integers(0, 10)
    if event == "set_status":
        return st.fixed_dictionaries({"status": st.sampled_from(["online", "away", "offline"])})
    if event == "send_message":
        return st.fixed_dictionaries(
            {
                "conversation_id": ids,
                "client_id": st.text(min_size=1, max_size=64),
                "body": st.text(min_size=1, max_size=300),
            }
        )
    if event == "mark_read":
        return st.fixed_dictionaries({"conversation_id": ids, "seq": seqs})
    if event == "follow_history":
        return st.fixed_dictionaries({"on": st.booleans()})
    if event == "sync":
        point = st.fixed_dictionaries({"conversation_id": ids, "seq": seqs})
        return st.fixed_dictionaries({"since": st.lists(point, max_size=5)})
    return st.fixed_dictionaries({"conversation_id": ids})


def events(real: list[int]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(EVENTS).flatmap(
        lambda event: st.tuples(
            st.just(event),
            # Half the payloads are of the event's own shape, the rest anything at all.
            st.one_of(valid(event, real), valid(event, real), shaped(real), json_values),
        )
    )


@pytest.fixture
async def fuzzed(backend: Backend) -> AsyncIterator[tuple[LiveServer, list[int]]]:
    async with harness_with(backend, **UNLIMITED) as harness, serving(harness) as live:
        agent = await harness.user()
        real = [(await request(harness, agent))["conversation"]["id"] for _ in range(3)]
        yield live, real


@pytest.mark.parametrize("role", [Role.AGENT, Role.TEAMLEADER, Role.ADMIN])
async def test_every_event_answers_any_payload(
    fuzzed: tuple[LiveServer, list[int]], role: Role, caplog: pytest.LogCaptureFixture
) -> None:
    live, others = fuzzed
    harness = live.harness
    user = await harness.user(role)
    # Ids of rows that exist: another agent's requests, and for an agent its own too.
    real = list(others)
    if role == Role.AGENT:
        real += [(await request(harness, user))["conversation"]["id"] for _ in range(2)]
    caplog.set_level(logging.ERROR)
    answers: Counter[str] = Counter()
    async with connected(live, await sign_in(harness, user)) as probe:
        loop = asyncio.get_running_loop()

        # Hypothesis runs sync functions: it drives the examples from a thread of its own,
        # each one sent from this loop, where the client and the server are.
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(sent=events(real))
        def one(sent: tuple[str, Any]) -> None:
            call = answered(probe, *sent, answers)
            asyncio.run_coroutine_threadsafe(call, loop).result(timeout=30)

        await asyncio.to_thread(one)
    assert not caplog.records, caplog.text
    # A fair share reached the handlers and was done, not only refused.
    assert answers["ok"] > EXAMPLES // 20, answers
    assert answers["invalid"] > EXAMPLES // 10, answers


async def answered(probe: Probe, event: str, payload: Any, answers: Counter[str]) -> None:
    ack = await probe.call(event, payload)  # times out (fails) if no ack comes
    assert isinstance(ack, dict), ack
    error = ack.get("error")
    answers[error["code"] if error else "ok"] += 1
    if error:
        assert error["code"] != "internal_error", (event, payload, ack)
        assert set(error) == {"code", "message", "details"}, ack
