"""``wf run --queue`` and ``wf worker`` on the command line (in-process; worker processes on
SQLite are tested in plugins/sqlite/tests/test_sqlite_workers.py)."""

from __future__ import annotations

from cli_helpers import Invoke


def test_queue_on_a_store_of_this_process_only_is_a_usage_error(wf: Invoke) -> None:
    result = wf("--store", "memory://", "run", "fx-count", "--queue")
    assert result.exit_code == 2, result.output
    assert "--queue stores the run for a `wf worker` in another process" in result.output
    assert "sqlite:///runs.db" in result.output


def test_worker_help_explains_leases_cancel_and_stopping(wf: Invoke) -> None:
    result = wf("worker", "--help")
    assert result.exit_code == 0
    for words in ("--concurrency", "--lease", "--exit-when-idle", "SIGTERM", "wf runs cancel"):
        assert words in result.output, words


def test_worker_refuses_a_concurrency_below_one(wf: Invoke) -> None:
    result = wf("worker", "--concurrency", "0")
    assert result.exit_code == 2 and "--concurrency" in result.output


def test_a_worker_on_a_store_of_this_process_only_is_a_usage_error(wf: Invoke) -> None:
    result = wf("--store", "memory://", "worker", "--exit-when-idle")
    assert result.exit_code == 2, result.output
    assert "lives in this process only" in result.output
