"""How long ``wf`` takes to start: ``wf --help`` and friends, as new processes.

Each command runs as a fresh process, interleaved with the others for several repeats
(this is a shared machine: the median and the best are printed). The figures:

* ``python -c pass``: the interpreter alone (the floor; with this environment's .pth files);
* ``import wfengine``: the engine package;
* ``wf --help``: the console script with every installed plugin loaded (the target: under
  0.3 s median);
* ``wf --help, no plugins``: the same with ``WFENGINE_LOAD_PLUGINS=`` (the engine alone);
* ``wf --version``, ``wf workflows``: other commands that open no store.

Then, in one child process, which heavy modules ``wf --help`` imported (it must import
neither polars nor FastAPI) and the plugins that were loaded.

    python benchmarks/bench_cli_startup.py [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3
HEAVY = ("polars", "fastapi", "uvicorn", "starlette", "pydantic", "yaml", "sqlite3")


def wf_command() -> list[str]:
    """The installed console script, else ``python -m wfengine``."""
    script = Path(sys.executable).parent / "wf"
    if script.exists():
        return [str(script)]
    found = shutil.which("wf")
    return [found] if found else [sys.executable, "-m", "wfengine"]


def cases() -> list[tuple[str, list[str], dict[str, str]]]:
    """Name, command and extra environment of each measured command."""
    wf = wf_command()
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], {}),
        ("import wfengine", [sys.executable, "-c", "import wfengine"], {}),
        ("wf --help", [*wf, "--help"], {}),
        ("wf --help, no plugins", [*wf, "--help"], {"WFENGINE_LOAD_PLUGINS": ""}),
        ("wf --version", [*wf, "--version"], {}),
        ("wf workflows", [*wf, "workflows"], {}),
    ]


def time_once(command: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of ``command`` (output discarded); it must succeed."""
    start = time.perf_counter()
    subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        env={**os.environ, **env},
    )
    return time.perf_counter() - start


def imported_by_help() -> dict[str, object]:
    """Heavy modules in ``sys.modules`` after ``wf --help``, and the loaded plugins."""
    code = (
        "import json, sys, io, contextlib\n"
        "from wfengine import Engine\n"
        "from wfengine.cli import main\n"
        "made = []\n"
        "def factory():\n"
        "    made.append(Engine())\n"
        "    return made[0]\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'], engine=factory)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "plugins = [p.name for p in made[0].plugins() if not p.builtin]\n"
        "print(json.dumps({'heavy': heavy, 'plugins': plugins}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    measured = cases()
    times: dict[str, list[float]] = {name: [] for name, _, _ in measured}
    for _name, command, env in measured:  # warm the file cache once
        time_once(command, env)
    for _ in range(args.repeats):
        for name, command, env in measured:
            times[name].append(time_once(command, env))

    floor = statistics.median(times["python -c pass"])
    print(f"{'command':<24}{'median':>9}{'best':>9}{'over python':>13}")
    for name, _, _ in measured:
        median = statistics.median(times[name])
        print(f"{name:<24}{median:>8.3f}s{min(times[name]):>8.3f}s{median - floor:>12.3f}s")

    info = imported_by_help()
    print(f"plugins loaded by wf --help: {', '.join(info['plugins']) or '(none)'}")  # type: ignore[arg-type]
    print(f"heavy modules imported by wf --help: {', '.join(info['heavy']) or '(none)'}")  # type: ignore[arg-type]
    help_median = statistics.median(times["wf --help"])
    verdict = "meets" if help_median < TARGET_S else "MISSES"
    print(f"wf --help median {help_median:.3f} s {verdict} the target of {TARGET_S} s")
    bad = [m for m in ("polars", "fastapi") if m in info["heavy"]]  # type: ignore[operator]
    if bad:
        print(f"wf --help imports {', '.join(bad)}: a plugin imports it at import time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
