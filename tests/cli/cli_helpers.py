"""Helpers shared by the ``wf`` tests (imported by name: tests/cli is on ``sys.path``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

HERE = Path(__file__).parent
LAUNCHER = HERE / "wf_fixture.py"

Invoke = Callable[..., Result]
"""``wf(*args, input=None, env=None) -> Result``: the ``wf`` fixture's type."""


def launcher_command(*args: str) -> list[str]:
    """The command line running ``wf`` with the fixture plugin in a new process."""
    return [sys.executable, str(LAUNCHER), *args]


def run_process(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with piped output, no colour forcing, a timeout; returns the result."""
    env = {**os.environ, **kwargs.pop("env", {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, **kwargs)
