"""``wf`` as a process: the installed script, exit codes, piped output, Ctrl-C, startup."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from cli_helpers import launcher_command, run_process
from wfengine import __version__

HEAVY = ("polars", "fastapi", "uvicorn", "starlette", "pydantic")


def test_installed_script_and_python_m() -> None:
    script = Path(sys.executable).parent / "wf"
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    result = run_process([str(script), "--version"])
    assert result.returncode == 0
    assert result.stdout == f"wf (wfengine), version {__version__}\n"
    result = run_process([sys.executable, "-m", "wfengine", "--version"])
    assert result.returncode == 0 and __version__ in result.stdout


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from wfengine.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    result = run_process([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    heavy = json.loads(result.stderr.splitlines()[-1])
    assert heavy == [], (
        f"wf --help imported {heavy}: a plugin module (or the engine) imports it at import "
        "time; import it inside the tool that needs it"
    )
    assert "Usage: wf" in result.stdout


def test_exit_codes_and_plain_piped_output(tmp_path: Path) -> None:
    done = run_process(launcher_command("run", "fx-count", "-s", f"output_dir={tmp_path}"))
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    assert done.stdout.splitlines()[0].split()[:4] == ["ok", "step", "1", "add"]
    assert run_process(launcher_command("run", "fx-fail")).returncode == 1
    paused = run_process(launcher_command("run", "fx-review", "--interrupt-before", "review"))
    assert paused.returncode == 3
    unknown = run_process(launcher_command("run", "fx-cuont"))
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    assert len(unknown.stderr.splitlines()) == 1 and "did you mean 'fx-count'" in unknown.stderr
    bad = run_process(launcher_command("run", "fx-count", "-s", "oops"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _start_slow(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        launcher_command("run", "fx-slow", "-s", "seconds=0.3", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the first node line: the run is going
    assert "tick" in first, first
    return process


def test_ctrl_c_cancels_between_steps_and_exits_130() -> None:
    process = _start_slow()
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, (out, err)
    assert time.monotonic() - started < 5
    assert "cancelling: the run stops after the current step" in err
    assert "cancelled: run " in out
    assert "Traceback" not in err


def test_second_ctrl_c_stops_waiting() -> None:
    process = _start_slow("-s", "seconds=2")
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    said = ""
    while "cancelling" not in said:  # the first was handled: two signals cannot coalesce now
        line = process.stderr.readline()
        assert line, "wf ended before saying it was cancelling"
        said += line
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    err = said + err
    assert process.returncode == 130, (out, err)
    assert err.strip().endswith("Interrupted.")
    assert "Traceback" not in err


def test_a_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(
        launcher_command(
            "run", "fx-slow", "-s", "seconds=0", "-s", "limit=100000", "--max-steps", "200000"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `wf run ... | head -1` does
    err = process.stderr.read()
    process.wait(timeout=30)
    assert process.returncode == 1
    assert "Traceback" not in err and "unexpected" not in err
