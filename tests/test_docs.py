"""The docs keep up with the code: every hook and its arguments are documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from wfengine import hookspecs

DOCS = Path(__file__).parent.parent / "docs" / "hooks.md"
SPECS = [
    (name, func)
    for name, func in vars(hookspecs).items()
    if name.startswith("wfengine_") and callable(func)
]


def test_there_are_hook_specs() -> None:
    assert len(SPECS) == 12


@pytest.mark.parametrize(("name", "func"), SPECS, ids=[n for n, _ in SPECS])
def test_each_hook_has_a_heading_with_its_arguments(name: str, func: object) -> None:
    text = DOCS.read_text()
    args = list(inspect.signature(func).parameters)  # type: ignore[arg-type]
    heading = f"### `{name}({', '.join(args)})`"
    assert heading in text, f"docs/hooks.md lacks the heading {heading}"
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
    for arg in args:
        assert re.search(rf"`{arg}`", section), f"{name}: argument '{arg}' is not described"
    assert "```python" in section and "@hookimpl" in section, f"{name}: no example"


@pytest.mark.parametrize(("name", "func"), SPECS, ids=[n for n, _ in SPECS])
def test_each_hook_spec_has_a_docstring(name: str, func: object) -> None:
    assert (func.__doc__ or "").strip(), f"{name} has no docstring"
