"""The worked examples in docs/composition.md run as written, and the example spec runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from wfengine import Engine

ROOT = Path(__file__).parent.parent
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "composition.md").read_text(), re.S)


def test_the_page_has_a_worked_example_of_each_feature() -> None:
    assert len(BLOCKS) == 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_example_runs(index: int) -> None:
    exec(compile(BLOCKS[index], f"composition.md block {index}", "exec"), {})


def test_the_compose_example_spec_maps_routes_and_nests(engine: Engine) -> None:
    run = engine.run(str(ROOT / "examples" / "specs" / "compose.yaml"), {"docs": ["a b", "c"]})
    assert run.status == "completed", run.error
    assert run.state["summaries"] == ["a b", "c"] and run.state["long_count"] == 0
    assert "needs_review" not in run.state and run.visited_nodes[-2:] == ["check/triage", "check"]
