"""Retry policies and per-node timeouts, sync and async (issue 2, "Retry", "timeout")."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from wfengine import (
    END,
    Graph,
    NodeTimeoutError,
    RetryPolicy,
    RunStatus,
    SpecError,
    WorkflowExecutor,
)

FAST = RetryPolicy(max_attempts=3, initial_delay=0)


def single(func: Any, **options: Any) -> Graph:
    return Graph("single").add_node("n", func, **options).add_edge("n", END).set_entry_point("n")


class Flaky:
    """Fails ``failures`` times with ``error``, then returns ``{"ok": attempt}``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, state: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"attempt {self.calls} failed")
        return {"ok": self.calls}


class AsyncFlaky(Flaky):
    async def __call__(self, state: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        await asyncio.sleep(0)
        return super().__call__(state)


# -- the policy --------------------------------------------------------------------------


def test_policy_defaults_and_fields() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 3
    assert policy.retry_on == (Exception,)
    custom = RetryPolicy(5, 0.5, 3.0, 2.0, False, (KeyError,))
    assert (custom.max_attempts, custom.initial_delay, custom.backoff_factor) == (5, 0.5, 3.0)
    assert (custom.max_delay, custom.jitter, custom.retry_on) == (2.0, False, (KeyError,))


def test_should_retry_counts_attempts_and_filters_exceptions() -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=(ConnectionError,))
    assert policy.should_retry(ConnectionError(), 1)
    assert policy.should_retry(ConnectionResetError(), 2)  # a subclass
    assert not policy.should_retry(ConnectionError(), 3)
    assert not policy.should_retry(ValueError(), 1)


def test_exponential_backoff_capped_without_jitter() -> None:
    policy = RetryPolicy(
        max_attempts=9, initial_delay=0.1, backoff_factor=2, max_delay=0.5, jitter=False
    )
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_jitter_stays_within_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=9, initial_delay=1, backoff_factor=2, max_delay=3)
    delays = [policy.delay(3) for _ in range(200)]
    assert all(0 <= d <= 3 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "fields",
    [{"max_attempts": 0}, {"initial_delay": -1}, {"backoff_factor": 0.5}, {"max_delay": -1}],
)
def test_invalid_policies_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**fields)


def test_coerce_from_int_mapping_policy_or_none() -> None:
    assert RetryPolicy.coerce(None) is None
    assert RetryPolicy.coerce(FAST) is FAST
    assert RetryPolicy.coerce(4) == RetryPolicy(max_attempts=4)
    policy = RetryPolicy.coerce({"max_attempts": 2, "retry_on": ["TimeoutError", "KeyError"]})
    assert policy == RetryPolicy(max_attempts=2, retry_on=(TimeoutError, KeyError))
    assert RetryPolicy.coerce({"retry_on": ValueError}) == RetryPolicy(retry_on=(ValueError,))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "number of attempts or a mapping"),
        ("3", "number of attempts or a mapping"),
        ({"attempts": 3}, "unknown retry field"),
        ({"retry_on": ["NoSuchError"]}, "NoSuchError"),
        ({"max_attempts": 0}, "invalid retry policy"),
    ],
)
def test_coerce_errors_say_what_was_wrong(value: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        RetryPolicy.coerce(value)


def test_to_dict_names_exception_types() -> None:
    assert RetryPolicy(retry_on=(KeyError, OSError)).to_dict()["retry_on"] == [
        "KeyError",
        "OSError",
    ]


# -- retries in runs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry", [FAST, 3, {"max_attempts": 3, "initial_delay": 0}], ids=["policy", "int", "dict"]
)
def test_retries_succeed_on_the_third_attempt(retry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt: 0.0)  # int form: no waiting
    flaky = Flaky(failures=2)
    run = WorkflowExecutor(single(flaky, retry=retry)).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"ok": 3}
    assert flaky.calls == 3
    assert [(e.node, e.step, e.attempt, e.status) for e in run.logs] == [
        ("n", 1, 1, "retrying"),
        ("n", 1, 2, "retrying"),
        ("n", 1, 3, "completed"),
    ]
    assert run.logs[0].error is not None and run.logs[0].error["message"] == "attempt 1 failed"
    assert run.logs[0].state_before is None
    assert run.logs[2].error is None
    assert run.visited_nodes == ["n"]


def test_retries_exhausted_fail_the_run_with_the_last_error() -> None:
    flaky = Flaky(failures=5)
    run = WorkflowExecutor(single(flaky, retry=FAST)).run({"x": 1})
    assert run.status == RunStatus.FAILED
    assert flaky.calls == 3
    assert [e.status for e in run.logs] == ["retrying", "retrying", "failed"]
    assert run.error is not None
    assert run.error["message"] == "attempt 3 failed" and run.error["node"] == "n"
    assert run.logs[-1].state_before == {"x": 1}


def test_exception_not_in_retry_on_fails_at_once() -> None:
    flaky = Flaky(failures=1, error=ValueError)
    policy = RetryPolicy(max_attempts=3, initial_delay=0, retry_on=(ConnectionError,))
    run = WorkflowExecutor(single(flaky, retry=policy)).run({})
    assert run.status == RunStatus.FAILED
    assert flaky.calls == 1
    assert [e.status for e in run.logs] == ["failed"]
    assert run.error is not None and run.error["type"] == "ValueError"


def test_without_a_policy_a_node_runs_once() -> None:
    flaky = Flaky(failures=1)
    run = WorkflowExecutor(single(flaky)).run({})
    assert run.status == RunStatus.FAILED
    assert flaky.calls == 1


def test_retry_waits_the_backoff_delay() -> None:
    flaky = Flaky(failures=2)
    policy = RetryPolicy(max_attempts=3, initial_delay=0.02, backoff_factor=2, jitter=False)
    start = time.perf_counter()
    run = WorkflowExecutor(single(flaky, retry=policy)).run({})
    elapsed = time.perf_counter() - start
    assert run.status == RunStatus.COMPLETED
    assert elapsed >= 0.02 + 0.04 - 0.005


def test_each_attempt_gets_a_fresh_copy_of_the_state() -> None:
    seen: list[dict[str, Any]] = []

    def messy(state: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(state))
        state["dirty"] = True
        if len(seen) < 3:
            raise ConnectionError("again")
        return {"done": True}

    run = WorkflowExecutor(single(messy, retry=FAST)).run({"x": 1})
    assert run.status == RunStatus.COMPLETED
    assert seen == [{"x": 1}] * 3
    assert run.state == {"x": 1, "done": True}


def test_retries_in_a_parallel_branch() -> None:
    flaky = Flaky(failures=2)
    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("flaky", flaky, retry=FAST)
        .add_node("steady", lambda s: {"steady": True})
        .add_edge("start", "flaky")
        .add_edge("start", "steady")
        .add_edge("flaky", END)
        .add_edge("steady", END)
        .set_entry_point("start")
    )
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"ok": 3, "steady": True}
    assert [e.attempt for e in run.logs if e.node == "flaky"] == [1, 2, 3]


def test_async_node_retries_succeed_on_the_third_attempt() -> None:
    flaky = AsyncFlaky(failures=2)
    run = asyncio.run(WorkflowExecutor(single(flaky, retry=FAST)).arun({}))
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"ok": 3}
    assert [(e.attempt, e.status) for e in run.logs] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "completed"),
    ]


def test_cancel_during_retry_backoff_cancels_the_run() -> None:
    flaky = Flaky(failures=5)
    graph = single(flaky, retry=RetryPolicy(max_attempts=5, initial_delay=10, jitter=False))
    executor = WorkflowExecutor(graph)
    run = executor.new_run({})
    threading.Timer(0.05, run.cancel).start()
    start = time.perf_counter()
    executor.run_existing(run)
    assert time.perf_counter() - start < 5
    assert run.status == RunStatus.CANCELLED
    assert flaky.calls == 1


# -- timeouts --------------------------------------------------------------------------------


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so a timed-out sync node's thread can finish."""
    event = threading.Event()
    yield event
    event.set()


def test_sync_timeout_stops_waiting_and_fails_the_node(release: threading.Event) -> None:
    def stuck(state: dict[str, Any]) -> dict[str, Any]:
        release.wait(10)
        return {"late": True}

    start = time.perf_counter()
    run = WorkflowExecutor(single(stuck, timeout=0.05)).run({"x": 1})
    assert time.perf_counter() - start < 2
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "NodeTimeoutError"
    assert run.error["node"] == "n"
    assert "0.05" in run.error["message"] and "'n'" in run.error["message"]
    assert run.state == {"x": 1}
    assert run.logs[-1].status == "failed"
    assert run.logs[-1].state_before == {"x": 1}


def test_a_node_that_finishes_within_its_timeout_succeeds() -> None:
    run = WorkflowExecutor(single(lambda s: {"ok": True}, timeout=5)).run({})
    assert run.status == RunStatus.COMPLETED
    assert run.state == {"ok": True}


def test_async_timeout_cancels_the_node() -> None:
    cancelled = []

    async def slow(state: dict[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return {"late": True}

    start = time.perf_counter()
    run = asyncio.run(WorkflowExecutor(single(slow, timeout=0.05)).arun({}))
    assert time.perf_counter() - start < 2
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "NodeTimeoutError"
    assert cancelled == [True]


def test_async_timeout_also_applies_in_a_sync_driver() -> None:
    async def slow(state: dict[str, Any]) -> None:
        await asyncio.sleep(10)

    run = WorkflowExecutor(single(slow, timeout=0.05)).run({})
    assert run.status == RunStatus.FAILED
    assert run.error is not None and run.error["type"] == "NodeTimeoutError"


def test_timeout_is_retried_when_the_policy_allows(release: threading.Event) -> None:
    calls: list[int] = []

    def sometimes_stuck(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) < 3:
            release.wait(10)
        return {"attempts": len(calls)}

    policy = RetryPolicy(max_attempts=3, initial_delay=0, retry_on=(NodeTimeoutError,))
    run = WorkflowExecutor(single(sometimes_stuck, timeout=0.05, retry=policy)).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"attempts": 3}
    assert [e.status for e in run.logs] == ["retrying", "retrying", "completed"]


def test_timeout_in_a_parallel_branch_fails_the_run(release: threading.Event) -> None:
    def stuck(state: dict[str, Any]) -> None:
        release.wait(10)

    graph = (
        Graph("fan")
        .add_node("start", lambda s: None)
        .add_node("stuck", stuck, timeout=0.05)
        .add_node("quick", lambda s: {"quick": True})
        .add_edge("start", "stuck")
        .add_edge("start", "quick")
        .add_edge("stuck", END)
        .add_edge("quick", END)
        .set_entry_point("start")
    )
    start = time.perf_counter()
    run = WorkflowExecutor(graph).run({})
    assert time.perf_counter() - start < 2
    assert run.status == RunStatus.FAILED
    assert run.error is not None
    assert run.error["type"] == "NodeTimeoutError" and run.error["node"] == "stuck"


def test_timed_branches_do_not_starve_a_full_pool() -> None:
    graph = Graph("fan").add_node("start", lambda s: None).set_entry_point("start")
    for name in ("a", "b", "c"):
        graph.add_node(name, lambda s, name=name: {name: 1}, timeout=2)
        graph.add_edge("start", name).add_edge(name, END)
    start = time.perf_counter()
    run = WorkflowExecutor(graph, max_workers=2).run({})
    assert run.status == RunStatus.COMPLETED, run.error
    assert run.state == {"a": 1, "b": 1, "c": 1}
    assert time.perf_counter() - start < 1


def test_a_node_stuck_past_its_timeout_does_not_keep_the_process_alive() -> None:
    script = textwrap.dedent(
        """
        import time
        from wfengine import END, Graph, WorkflowExecutor

        graph = Graph("stuck").add_node("s", lambda s: time.sleep(60), timeout=0.05)
        graph.add_edge("s", END).set_entry_point("s")
        print(WorkflowExecutor(graph).run({}).status)
        """
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "failed", done.stderr
    assert time.perf_counter() - start < 10


def test_cancel_during_async_retry_backoff_cancels_the_run() -> None:
    flaky = AsyncFlaky(failures=5)
    graph = single(flaky, retry=RetryPolicy(max_attempts=5, initial_delay=10, jitter=False))
    executor = WorkflowExecutor(graph)

    async def main() -> Any:
        run = executor.new_run({})
        asyncio.get_running_loop().call_later(0.05, run.cancel)
        return await executor.arun_existing(run)

    start = time.perf_counter()
    run = asyncio.run(main())
    assert time.perf_counter() - start < 5
    assert run.status == RunStatus.CANCELLED
    assert flaky.calls == 1


def test_an_exception_marked_not_retryable_fails_at_once() -> None:
    class BadInput(ValueError):
        retryable = False

    calls = {"n": 0}

    def node(state: dict[str, Any]) -> dict[str, Any]:
        calls["n"] += 1
        raise BadInput("no such file")

    graph = (
        Graph("g")
        .add_node("n", node, retry=RetryPolicy(max_attempts=3, initial_delay=0))
        .add_edge("n", END)
        .set_entry_point("n")
    )
    run = WorkflowExecutor(graph).run({})
    assert run.status == RunStatus.FAILED and calls["n"] == 1
    assert [entry.status for entry in run.logs] == ["failed"]
