"""The sample data generator, the shipped sample, the docs and the plugin's import cost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dq_helpers import REPO

from wfengine_dataquality.detection import __doc__ as detect_doc
from wfengine_dataquality.plugin import TOOLS
from wfengine_dataquality.rules import KINDS
from wfengine_dataquality.sample import (
    PROBLEMS_PER_3000,
    generate_customers,
    manifest_json,
    planted_counts,
)

README = Path(__file__).parents[1] / "README.md"
DATA = REPO / "examples" / "data"


def test_generator_is_deterministic() -> None:
    first, manifest = generate_customers(500, 3)
    second, again = generate_customers(500, 3)
    assert first.equals(second) and manifest == again
    other, _ = generate_customers(500, 4)
    assert not first.equals(other)


def test_counts_scale_and_rows_are_disjoint() -> None:
    frame, manifest = generate_customers(30_000, 1)
    assert manifest["counts"] == {k: v * 10 for k, v in PROBLEMS_PER_3000.items()}
    assert planted_counts(1_000_000)["duplicate_row"] == 13_333
    rows = [r for kind in manifest["rows_by_problem"].values() for r in kind]
    assert len(rows) == len(set(rows)) == sum(manifest["counts"].values())
    assert frame.height == 30_000


def test_shipped_sample_is_the_generators(customers: tuple[Path, dict[str, Any]]) -> None:
    if not (DATA / "customers.csv").exists():
        pytest.skip("examples/ is not there (not a checkout)")
    path, manifest = customers
    assert (DATA / "customers.csv").read_bytes() == path.read_bytes()
    assert (DATA / "customers.manifest.json").read_text() == manifest_json(manifest)
    readme = (DATA / "README.md").read_text()
    for kind, count in manifest["counts"].items():
        assert f"| `{kind}` | {count} |" in readme, kind


def test_readme_documents_every_tool_finding_and_rule() -> None:
    text = README.read_text()
    for name in TOOLS:
        assert f"### `{name}`" in text, name
    for kind in KINDS:
        assert f'"kind": "{kind}"' in text, kind
    assert detect_doc is not None
    kinds = ["duplicate", "null", "outlier", "malformed", "unexpected_value", "type_mismatch"]
    for kind in [*kinds, "missing_column", "unexpected_column"]:
        assert f"`{kind}`" in text and f"``{kind}``" in detect_doc, kind


def test_the_plugin_module_does_not_import_polars() -> None:
    code = (
        "import json, sys\n"
        "import wfengine_dataquality.plugin\n"
        "print(json.dumps('polars' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False
