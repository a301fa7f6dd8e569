"""Hardening F3, F5, F6: what a client's graph can make a run do is bounded on the server."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from wfengine.retry import RetryPolicy

pytestmark = pytest.mark.server


def chain_spec(**node: Any) -> dict[str, Any]:
    return {
        "name": "one",
        "entry": "a",
        "nodes": {"a": {"tool": "t.fail", **node}},
        "edges": [{"from": "a", "to": "END"}],
    }


@pytest.mark.parametrize(
    ("retry", "fragment"),
    [
        ({"max_attempts": 11}, "at most 10"),
        ({"max_attempts": 5, "initial_delay": 100, "max_delay": 200}, "could wait"),
        ({"max_attempts": 1_000_000_000}, "max_attempts"),
        ({"initial_delay": 1e9}, "initial_delay"),
        ({"max_attempts": 1e9}, "integer"),
        ({"max_delay": 1e308, "initial_delay": 1}, "max_delay"),
    ],
)
def test_unbounded_retry_policies_are_refused(
    client: TestClient, retry: dict[str, Any], fragment: str
) -> None:
    response = client.post("/graph/create", json=chain_spec(retry=retry))
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]["message"]
    assert "nodes.a.retry" in response.text


def test_retry_caps_are_operator_settings(make_client: Any) -> None:
    client = make_client(max_retry_attempts=50, max_retry_seconds=10_000)
    spec = chain_spec(retry={"max_attempts": 40, "initial_delay": 0})
    assert client.post("/graph/create", json=spec).status_code == 201


def test_state_growing_in_a_loop_fails_the_run_with_the_key_named(make_client: Any) -> None:
    """F3: a spec whose reducer doubled a list every round reached 780 MB; the state is now
    measured after every step against the server's max_state_bytes."""
    client = make_client(max_state_bytes=50_000)
    spec = {
        "name": "doubling",
        "entry": "grow",
        "max_steps": 500,
        "reducers": {"items": "extend", "n": "add"},
        "nodes": {"grow": {"tool": "t.echo_items"}},
        "edges": [
            {"from": "grow", "to": "grow", "when": "n < 400"},
            {"from": "grow", "to": "END", "default": True},
        ],
    }
    graph_id = client.post("/graph/create", json=spec).json()["graph_id"]
    body = client.post(
        "/graph/run", json={"graph_id": graph_id, "initial_state": {"items": ["x" * 40]}}
    ).json()
    assert body["status"] == "failed"
    assert body["error"]["type"] == "StateTooLargeError"
    assert "key 'items'" in body["error"]["message"]
    assert len(str(body["final_state"]["items"])) < 60_000


def test_delay_does_not_overflow_at_high_attempts() -> None:
    """F6: the default backoff overflowed (OverflowError) at attempt 1,025."""
    policy = RetryPolicy(max_attempts=5000, jitter=False, max_delay=30)
    assert policy.delay(1025) == 30
    assert policy.delay(10**6) == 30
    assert policy.delay(1) == pytest.approx(0.1)
    assert policy.delay(3) == pytest.approx(0.4)
    assert RetryPolicy(initial_delay=5, max_delay=2, jitter=False).delay(1) == 2
    assert RetryPolicy(max_attempts=4, initial_delay=1, jitter=False).longest_wait() == 7
