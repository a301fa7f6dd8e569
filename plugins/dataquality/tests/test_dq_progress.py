"""dq.load reports its progress through ``wfengine.emit`` (read, then written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wfengine.progress import emitting

from wfengine_dataquality import load


def test_load_emits_read_and_written_progress(tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("id,amount\n" + "".join(f"{i},{i * 1.5}\n" for i in range(500)))
    seen: list[tuple[str, Any]] = []

    def sink(kind: str, data: Any) -> None:
        seen.append((kind, data))

    def node(state: dict[str, Any]) -> dict[str, Any]:
        return load(state)

    update = emitting(node, sink)({"source": str(source), "output_dir": str(tmp_path / "o")})
    assert update["accounting"]["input_rows"] == 500
    assert seen == [
        ("progress", {"stage": "read", "done": 1, "total": 2, "rows": 500}),
        ("progress", {"stage": "written", "done": 2, "total": 2, "rows": 500}),
    ]
