"""Wide tables (issue 11, F9): range checks of numbers are counted per block of columns,
the profile in a few multi-column expressions; the findings are those of a narrow table."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import detection
from wfengine_dataquality.detection import detect_frame
from wfengine_dataquality.profiling import profile_frame


def _with_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))


def _findings(frame: pl.DataFrame) -> dict[tuple[str, str | None], dict[str, Any]]:
    frame = _with_rows(frame)
    findings, _ = detect_frame(frame, profile_frame(frame))
    return {(f["kind"], f["column"]): f for f in findings}


def _table(columns: int, rows: int = 200) -> pl.DataFrame:
    """Number columns, one extreme value in each (at a different row), one tail outlier
    and a missing value in the first; plus a text column of numbers with an extreme one."""
    data: dict[str, list[Any]] = {}
    for c in range(columns):
        values: list[Any] = [float((r * (c + 3)) % 50) for r in range(rows)]
        values[(7 * c) % rows] = 1e9
        data[f"n{c}"] = values
    data["n0"][5] = None
    data["n0"][6] = 90.0  # a tail outlier, inside the plausible range
    data["text"] = [str(r % 40) for r in range(rows - 1)] + ["40000000"]
    return pl.DataFrame(data)


@pytest.mark.parametrize("block_cells", [10**9, 200, 1])
def test_range_findings_do_not_depend_on_the_blocks(
    monkeypatch: pytest.MonkeyPatch, block_cells: int
) -> None:
    monkeypatch.setattr(detection, "BLOCK_CELLS", block_cells)
    found = _findings(_table(30))
    for c in range(30):
        extreme = found[("extreme", f"n{c}")]
        row = (7 * c) % 200
        assert extreme["count"] == 1 and extreme["examples"] == [row + 1], c
        assert extreme["example_values"] == ["1000000000.0"]
    outlier = found[("outlier", "n0")]
    assert outlier["count"] == 1 and outlier["examples"] == [7]  # not the extreme, not null
    assert found[("extreme", "text")]["examples"] == [200]
    assert found[("extreme", "text")]["example_values"] == ["40000000"]


def test_a_wide_profile_matches_the_narrow_one() -> None:
    wide = _table(300)
    narrow = wide.select("n0", "n299", "text")
    cols = profile_frame(wide)["columns"]
    for name, info in profile_frame(narrow)["columns"].items():
        assert cols[name] == info, name
    assert cols["n0"]["nulls"] == 1 and cols["n0"]["max"] == 1e9
    assert cols["text"]["format"]["format"] == "number" and cols["text"]["max"] == 40000000
