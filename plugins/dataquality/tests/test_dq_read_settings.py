"""Every reading setting comes from the state (``wf run -s``) or a spec node's params."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from click.testing import CliRunner
from wfengine import Engine
from wfengine.cli import CliContext, cli

from wfengine_dataquality import load
from wfengine_dataquality.io import read_frame
from wfengine_dataquality.loading import READ_SETTINGS
from wfengine_dataquality.read_options import ReadOptions

# Detected as ',' with one column 'a;b' would be wrong; with sep=';' it is two columns.
TEXT = "meta line\na;b,c\n1;2,5\n3;4,5\n"


def test_read_settings_describe_every_option() -> None:
    assert set(READ_SETTINGS) == {f.name for f in dataclasses.fields(ReadOptions)}
    assert set(READ_SETTINGS) == {
        "sep",
        "encoding",
        "decimal",
        "header_row",
        "quote",
        "null_values",
    }
    assert all(isinstance(text, str) and "\n" not in text for text in READ_SETTINGS.values())


def test_a_state_value_wins_over_a_param_of_the_same_name(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(TEXT)
    base = {"source": str(src), "output_dir": str(tmp_path / "out")}
    from_params = load(base, sep=";", header_row=2, decimal=",")
    assert from_params["schema"] == {"a": "Int64", "b,c": "Float64"}
    from_state = load({**base, "sep": ",", "decimal": "."}, sep=";", header_row=2, decimal=",")
    assert from_state["schema"] == {"a;b": "String", "c": "Int64"}
    assert from_state["read_info"]["sep"] == ","
    # A null in the state means "not set": the param applies.
    assert load({**base, "sep": None}, sep=";", header_row=2)["read_info"]["sep"] == ";"


def test_settings_from_wf_run_dash_s(tmp_path: Path, engine: Engine) -> None:
    src = tmp_path / "in.tsv.csv"
    src.write_text("note\ta\n-\t1\nx, y\t2\n")
    out = tmp_path / "out"
    args = ["run", "data-quality", "-s", f"source={src}", "-s", f"output_dir={out}"]
    args += ["-s", "sep=\\t", "-s", 'null_values=["-"]', "-s", "header_row=1"]
    result = CliRunner().invoke(cli, args, obj=CliContext(engine))
    assert result.exit_code == 0, result.output
    data = read_frame(out / "work" / "data-r0.parquet", "test")
    assert data.columns == ["_row", "note", "a"]
    assert data.get_column("note").to_list() == [None, "x, y"]


def test_settings_from_a_spec_nodes_params(tmp_path: Path, engine: Engine) -> None:
    src = tmp_path / "in.csv"
    src.write_text(TEXT)
    spec = {
        "name": "read-only",
        "entry": "load",
        "nodes": {"load": {"tool": "dq.load", "params": {"sep": ";", "header_row": 2}}},
        "edges": [{"from": "load", "to": "END"}],
    }
    graph = engine.load_spec(spec)
    run = engine.run(graph, {"source": str(src), "output_dir": str(tmp_path / "a")})
    assert run.status == "completed", run.error
    assert run.state["read_info"]["sep"] == ";"
    assert run.state["schema"] == {"a": "Int64", "b,c": "Float64"}
    run = engine.run(
        graph, {"source": str(src), "output_dir": str(tmp_path / "b"), "header_row": 1}
    )
    assert run.status == "failed"  # 'meta line' as the header: the state's value won
    assert "header on line 1" in json.dumps(run.error)
