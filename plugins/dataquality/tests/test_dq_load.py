"""dq.load: sources, whole-file type inference, defaults and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError, load
from wfengine_dataquality.io import read_frame


def _load(tmp_path: Path, **state: object) -> dict[str, object]:
    return load({"output_dir": str(tmp_path / "out"), **state})


def test_csv_types_are_inferred_over_the_whole_file(tmp_path: Path) -> None:
    # Past the 10,000 rows polars types from: an int column turning float, text in numbers.
    n = 12_000
    frame = pl.DataFrame(
        {
            "late_float": [str(i) for i in range(n - 1)] + ["1.5"],
            "late_text": [str(i) for i in range(n - 1)] + ["abc"],
            "flag": ["true", "false"] * (n // 2),
            "day": ["2024-01-02"] * n,
            "ts": ["2024-01-02 10:11:12"] * n,
            "empty": [None] * n,
        },
        schema_overrides={"empty": pl.String},
    )
    src = tmp_path / "wide.csv"
    frame.write_csv(src)
    update = _load(tmp_path, source=str(src))
    assert update["schema"] == {
        "late_float": "Float64",
        "late_text": "String",
        "flag": "Boolean",
        "day": "Date",
        "ts": "Datetime",
        "empty": "String",
    }
    early = tmp_path / "early.csv"
    frame.head(20).write_csv(early)
    typed = load({"source": str(early), "output_dir": str(tmp_path / "early")})["schema"]
    assert typed["late_text"] == "Int64"
    data = read_frame(update["data_path"], "test")
    assert data.columns[0] == "_row"
    assert data.get_column("_row").to_list()[:3] == [1, 2, 3]


def test_defaults_and_accounting(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x,y\n1,a\n2,b\n")
    update = _load(tmp_path, source=str(src))
    assert update["threshold"] == 0
    assert update["max_rounds"] == 3
    assert update["round"] == 0
    assert update["accounting"] == {
        "input_rows": 2,
        "output_rows": 2,
        "quarantined_rows": 0,
        "duplicates_removed": 0,
    }
    assert Path(update["data_path"]) == tmp_path / "out" / "work" / "data-r0.parquet"
    json.dumps(update)  # JSON-storable


def test_given_settings_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    update = _load(tmp_path, source=str(src), threshold=5, max_rounds=1)
    assert "threshold" not in update and "max_rounds" not in update
    assert update["round"] == 0


def test_default_output_dir_is_a_fresh_folder_under_wf_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    first = load({"source": str(src)})["output_dir"]
    second = load({"source": str(src)})["output_dir"]
    assert Path(first).parent == tmp_path / "wf-output"
    assert first != second
    assert Path(first).is_absolute()


@pytest.mark.parametrize("suffix", [".parquet", ".ndjson", ".jsonl", ".json"])
def test_other_formats(tmp_path: Path, suffix: str) -> None:
    frame = pl.DataFrame({"id": [1, 2], "day": ["2024-01-02", "2024-02-03"], "ok": [True, None]})
    src = tmp_path / f"data{suffix}"
    if suffix == ".parquet":
        frame.write_parquet(src)
    elif suffix == ".json":
        frame.write_json(src)
    else:
        frame.write_ndjson(src)
    update = _load(tmp_path, source=str(src))
    assert update["schema"]["id"] == "Int64"
    assert update["schema"]["day"] == ("String" if suffix == ".parquet" else "Date")
    assert update["accounting"]["input_rows"] == 2


def test_rows(tmp_path: Path) -> None:
    rows = [{"a": 1, "b": "x", "d": "2024-01-01"}, {"a": None, "b": "y", "d": "2024-01-02"}]
    update = _load(tmp_path, rows=rows)
    assert update["schema"] == {"a": "Int64", "b": "String", "d": "Date"}
    assert update["source_name"] == "rows (2 given in the state)"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "dq.load: source '{src}' does not exist"),
        ("empty.csv", "", "dq.load: source '{src}' is empty"),
        ("header.csv", "a,b\n", "dq.load: source '{src}' is empty (no data rows)"),
        ("ragged.csv", "a,b\n1,2\n3,4,5\n", "dq.load: source '{src}' is not a well-formed CSV"),
        ("quote.csv", 'a,b\n1,2\n"3,4\n5,6\n', "dq.load: source '{src}' is not a well-formed CSV"),
        ("table.xlsx", "x", "dq.load: source '{src}' has unsupported extension '.xlsx'"),
        ("bad.json", "{not json", "dq.load: source '{src}' is not a well-formed JSON"),
        ("nested.ndjson", '{"a": [1, 2]}\n', "column 'a' holds List(Int64) values"),
        ("reserved.csv", "_row,b\n1,2\n", "has a column named '_row', which is reserved"),
        ("nul.csv", "a,b\x00c\nx,2\n", "column 2 of the header ('b\\x00c') holds a NUL byte"),
        ("nul.ndjson", '{"a\\u0000": 1}\n', "column 1 of the header ('a\\x00') holds a NUL"),
    ],
)
def test_bad_sources_name_the_source_and_the_problem(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    src = tmp_path / name
    if content is not None:
        src.write_text(content)
    with pytest.raises(DataQualityError) as caught:
        _load(tmp_path, source=str(src))
    assert message.format(src=src) in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"a": 1}, {"a": 2, "b": 3}], "rows[1] does not have the shape of rows[0]"),
        ([{"a": 1}, {"b": 2}], "(missing keys ['a'], extra keys ['b'])"),
        ([{"a": 1}, [1]], "rows[1] is a list, not an object"),
        ([], "'rows' is empty"),
        ({"a": 1}, "'rows' must be a list of objects"),
    ],
)
def test_bad_rows(tmp_path: Path, rows: object, message: str) -> None:
    with pytest.raises(DataQualityError, match="^dq.load: ") as caught:
        _load(tmp_path, rows=rows)
    assert message in str(caught.value)


def test_no_source_no_rows(tmp_path: Path) -> None:
    with pytest.raises(DataQualityError, match="neither 'source'"):
        _load(tmp_path)


def test_bad_settings(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x\n1\n")
    with pytest.raises(DataQualityError, match="'threshold' must be a number"):
        _load(tmp_path, source=str(src), threshold="high")
    with pytest.raises(DataQualityError, match=r"expected_schema\['x'\]: unknown type 'weird'"):
        _load(tmp_path, source=str(src), expected_schema={"x": "weird"})


def test_loading_again_is_harmless(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_text("x,y\n1,a\n2,b\n")
    first = _load(tmp_path, source=str(src))
    second = _load(tmp_path, source=str(src))
    assert first == second
    assert not list((tmp_path / "out" / "work").glob(".*tmp"))
