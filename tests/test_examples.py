"""The shipped examples run."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_embed_example_runs_with_its_own_plugin(capsys: object) -> None:
    namespace = runpy.run_path(str(EXAMPLES / "embed.py"))
    state = namespace["main"]()
    assert state["total"] == 102.0 and state["discounted"] is True
