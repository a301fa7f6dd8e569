"""A database this process cannot write (a read-only mount, a file nobody may write) can
still be listed and read; writing it says plainly why not (issue 11, F21).

Tests run as root, for whom ``chmod`` stops nothing: the real cases use a read-only bind
mount in a private mount namespace (``unshare -m``), which stops root too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from wfengine import END, Engine, Graph
from wfengine.errors import StoreError

import wfengine_sqlite.plugin
from wfengine_sqlite import SQLiteStore
from wfengine_sqlite.database import Database

READER = textwrap.dedent(
    """
    import json, sys
    from wfengine import Engine
    import wfengine_sqlite.plugin
    engine = Engine(plugins=[wfengine_sqlite.plugin], load_entrypoints=False,
                    store="sqlite:///" + sys.argv[1])
    out = {"runs": [r.run_id for r in engine.store.list_runs()[0]],
           "graphs": [g["graph_id"] for g in engine.store.list_graphs()]}
    out["state"] = engine.get_run(out["runs"][0]).state
    try:
        engine.store.save_graph("g2", {"x": 1})
    except Exception as exc:
        out["write"] = f"{type(exc).__name__}: {exc}"
    out["read_only"] = engine.store.read_only
    print(json.dumps(out))
    """
)


def _filled(path: Path) -> str:
    engine = Engine(
        plugins=[wfengine_sqlite.plugin], load_entrypoints=False, store=f"sqlite:///{path}"
    )
    try:
        graph = (
            Graph("twice")
            .add_node("a", lambda s: {"n": s["n"] + 1})
            .add_node("b", lambda s: {"n": s["n"] + 1})
            .add_edge("a", "b")
            .add_edge("b", END)
            .set_entry_point("a")
        )
        run = engine.run(graph, {"n": 1})
        engine.store.save_graph("g1", {"name": "kept"})
    finally:
        engine.close()
    return run.run_id


def _read_only_mount_available(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {tmp_path} {tmp_path} && "
            f"mount -o remount,bind,ro {tmp_path} && ! touch {tmp_path}/probe",
        ],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.mark.parametrize("wal_files", ["folded", "left"])
def test_a_database_on_a_read_only_mount_can_be_listed_and_read(
    tmp_path: Path, wal_files: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    run_id = _filled(data / "runs.db")
    if wal_files == "left":  # as a crashed writer leaves them: -wal and -shm next to it
        (data / "runs.db-wal").write_bytes(b"")
        (data / "runs.db-shm").write_bytes(b"")
    if not _read_only_mount_available(tmp_path):
        pytest.skip("needs a private mount namespace (unshare -m) for a read-only mount")
    script = tmp_path / "reader.py"
    script.write_text(READER)
    mount = f"mount --bind {data} {data} && mount -o remount,bind,ro {data}"
    out = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'{mount} && exec "$0" "$@"',
            sys.executable,
            str(script),
            str(data / "runs.db"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["runs"] == [run_id] and result["graphs"] == ["g1"]
    assert result["state"] == {"n": 3}
    assert result["read_only"]
    assert result["write"].startswith("StoreError: the SQLite store ")
    assert "is read-only here" in result["write"] and "not written" in result["write"]
    # and the command line: wf runs list / runs show / graphs list
    url = f"sqlite:///{data / 'runs.db'}"
    for args, expected in (
        (["runs", "list"], run_id),
        (["runs", "show", run_id], "completed"),
        (["graphs", "list"], "g1"),
    ):
        cli = subprocess.run(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                f'{mount} && exec "$0" "$@"',
                sys.executable,
                "-m",
                "wfengine",
                "--store",
                url,
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, (args, cli.stderr)
        assert expected in cli.stdout


def test_when_writing_cannot_open_the_store_opens_read_only(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = _filled(db_path)

    def refuse(self: Database, conn: object) -> None:
        raise StoreError(
            f"cannot open SQLite store {self.path}: attempt to write a readonly database"
        )

    monkeypatch.setattr(Database, "_prepare", refuse)
    store = SQLiteStore(f"sqlite:///{db_path}")
    try:
        assert (
            store.read_only == "opening it for writing failed: attempt to write a readonly database"
        )
        assert store._ro_uri is not None and store._ro_uri.endswith("?mode=ro")
        assert [r.run_id for r in store.list_runs()[0]] == [run_id]
        assert store.get_run(run_id).state == {"n": 3}
        assert store.get_graph("g1") == {"name": "kept"}
        with pytest.raises(StoreError, match="is read-only here .* not written"):
            store.save_graph("g2", {"name": "new"})
        with pytest.raises(StoreError, match="is read-only here"):
            store.prune(older_than=0)
    finally:
        store.close()


def test_a_missing_or_unreadable_database_is_still_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Database, conn: object) -> None:
        raise StoreError(f"cannot open SQLite store {self.path}: unable to open database file")

    monkeypatch.setattr(Database, "_prepare", refuse)
    with pytest.raises(StoreError, match="unable to open database file"):
        SQLiteStore(f"sqlite:///{tmp_path / 'missing.db'}")
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="garbage.db: "):
        SQLiteStore(f"sqlite:///{tmp_path / 'garbage.db'}")
