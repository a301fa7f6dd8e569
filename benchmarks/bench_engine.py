"""Engine overhead per step, against a plain Python loop calling the same functions.

Cases (issue "Engine core"): (a) a 100-node linear chain run 200 times, (b) a 2-node loop of
10,000 steps, (c) a fan-out of 10 branches that each sleep 10 ms, sync and async, (d) the
2-node loop over a state of 10 to 100,000 keys (a step costs what it changes: copy-on-write
state). Each engine figure is measured in this process next to its baseline; the best of
several repeats is kept (this is a shared machine). Targets: (a), (b) at most 2 us per step;
(c) at most 11 ms per run; (d) the step at 100,000 keys at most 2x the step at 10 keys.
The Engine's store is ``memory://``, which records each run's history (issue 17); (a) and
(b) are also measured on ``memory://?history=off``.

    python benchmarks/bench_engine.py            # bare executor and Engine with built-ins
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from wfengine import END, Engine, Graph, WorkflowExecutor

REPEATS = 7


def best(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The fastest of ``repeats`` timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def inc(state: dict[str, Any]) -> dict[str, Any]:
    return {"i": state["i"] + 1}


def noop(state: dict[str, Any]) -> None:
    return None


def chain_graph(n: int = 100) -> Graph:
    graph = Graph("chain")
    for k in range(n):
        graph.add_node(f"n{k}", inc)
        if k:
            graph.add_edge(f"n{k - 1}", f"n{k}")
    return graph.add_edge(f"n{n - 1}", END).set_entry_point("n0")


def loop_graph(steps: int) -> Graph:
    half = steps // 2
    return (
        Graph("loop")
        .add_node("a", inc)
        .add_node("b", noop)
        .add_edge("a", "b")
        .add_edge("b", "a", condition=lambda s: s["i"] < half)
        .add_edge("b", END, default=True)
        .set_entry_point("a")
    )


def fanout_graph(asynchronous: bool, branches: int = 10, delay: float = 0.010) -> Graph:
    def sleeper(state: dict[str, Any]) -> None:
        time.sleep(delay)

    async def async_sleeper(state: dict[str, Any]) -> None:
        await asyncio.sleep(delay)

    graph = Graph("fanout").add_node("start", noop).set_entry_point("start")
    for k in range(branches):
        graph.add_node(f"b{k}", async_sleeper if asynchronous else sleeper)
        graph.add_edge("start", f"b{k}")
    graph.add_node("join", noop).add_edge([f"b{k}" for k in range(branches)], "join")
    return graph.add_edge("join", END)


def case_chain(runner: Callable[[Graph], Callable[[dict[str, Any]], Any]]) -> tuple[float, float]:
    graph = chain_graph()
    funcs = [node.func for node in graph.nodes.values()]
    run = runner(graph)

    def engine() -> None:
        for _ in range(200):
            run({"i": 0})

    def baseline() -> None:
        for _ in range(200):
            state = {"i": 0}
            for f in funcs:
                state.update(f(state))

    steps = 200 * 100
    return best(engine) / steps, best(baseline) / steps


def case_loop(runner: Callable[[Graph], Callable[[dict[str, Any]], Any]]) -> tuple[float, float]:
    steps = 10_000
    graph = loop_graph(steps)
    run = runner(graph)
    half = steps // 2

    def baseline() -> None:
        state: dict[str, Any] = {"i": 0}
        while True:
            state.update(inc(state))
            state.update(noop(state) or {})
            if not state["i"] < half:
                break

    return best(lambda: run({"i": 0})) / steps, best(baseline) / steps


def case_fanout(engine: Engine | None, asynchronous: bool) -> tuple[float, float]:
    graph = fanout_graph(asynchronous)
    loop = asyncio.new_event_loop()  # async runs share one loop, as in a server
    if engine is None:
        executor = WorkflowExecutor(graph)
        if asynchronous:
            run_once: Callable[[], Any] = lambda: loop.run_until_complete(executor.arun({}))  # noqa: E731
        else:
            run_once = lambda: executor.run({})  # noqa: E731
    else:
        if asynchronous:
            run_once = lambda: loop.run_until_complete(engine.arun(graph, {}))  # noqa: E731
        else:
            run_once = lambda: engine.run(graph, {})  # noqa: E731
    run_once()  # warm the thread pool

    def baseline() -> None:
        time.sleep(0.010)  # ten branches in parallel at best take one sleep

    return best(run_once, 15), best(baseline, 15)


def case_state_size(engine: Engine, keys: int, steps: int = 10_000) -> float:
    """Seconds per step of the 2-node loop whose state holds ``keys`` keys."""
    graph = loop_graph(steps)
    state: dict[str, Any] = {f"k{n}": n for n in range(keys - 1)}
    state["i"] = 0

    def once() -> None:
        run = engine.run(graph, state, max_steps=steps + 10)
        assert run.status.value == "completed", run.error

    return best(once, 5) / steps


def main() -> None:
    engine = Engine(load_entrypoints=False)

    def bare(graph: Graph) -> Callable[[dict[str, Any]], Any]:
        executor = WorkflowExecutor(graph)
        return lambda state: executor.run(state, max_steps=100_000)

    def with_engine(graph: Graph) -> Callable[[dict[str, Any]], Any]:
        return lambda state: engine.run(graph, state, max_steps=100_000)

    no_history = Engine(load_entrypoints=False, store="memory://?history=off")

    def without_history(graph: Graph) -> Callable[[dict[str, Any]], Any]:
        return lambda state: no_history.run(graph, state, max_steps=100_000)

    print(f"{'case':<44}{'engine':>12}{'baseline':>12}{'overhead':>12}")
    for label, runner in (
        ("executor", bare),
        ("Engine (built-ins loaded)", with_engine),
        ("Engine, memory://?history=off", without_history),
    ):
        for name, case in (
            ("(a) 100-node chain x200", case_chain),
            ("(b) 2-node loop, 10,000 steps", case_loop),
        ):
            eng, base = case(runner)
            print(
                f"{name + ' / ' + label:<44}{eng * 1e6:>9.2f} us{base * 1e6:>9.2f} us"
                f"{(eng - base) * 1e6:>9.2f} us   per step (target <= 2 us)"
            )
    for label, eng_obj in (("executor", None), ("Engine", engine)):
        for asynchronous in (False, True):
            kind = "async" if asynchronous else "sync"
            wall, base = case_fanout(eng_obj, asynchronous)
            print(
                f"{'(c) fan-out 10 x 10 ms, ' + kind + ' / ' + label:<44}{wall * 1e3:>9.2f} ms"
                f"{base * 1e3:>9.2f} ms{(wall - base) * 1e3:>9.2f} ms   per run "
                "(target <= 11 ms)"
            )
    sizes = {keys: case_state_size(engine, keys) for keys in (10, 1_000, 10_000, 100_000)}
    for keys, per_step in sizes.items():
        ratio = per_step / sizes[10]
        print(
            f"{f'(d) 2-node loop, {keys:,}-key state / Engine':<44}{per_step * 1e6:>9.2f} us"
            f"{'':>12}{ratio:>9.2f} x    per step (target at 100,000 keys <= 2 x)"
        )


if __name__ == "__main__":
    main()
