"""The entry point module (``jsonlog = "wfengine_jsonlog.plugin"``).

Its hooks belong to one :class:`~wfengine_jsonlog.JsonLogPlugin` configured from the
environment: off until ``WFENGINE_JSONLOG`` (or ``wf --log-json``) names a destination.
"""

from __future__ import annotations

from typing import Any

from wfengine import hookimpl

from .hooks import JsonLogPlugin

default = JsonLogPlugin()
"""The instance behind the entry point; it follows ``WFENGINE_JSONLOG``."""

wfengine_run_started = default.wfengine_run_started
wfengine_node_started = default.wfengine_node_started
wfengine_node_finished = default.wfengine_node_finished
wfengine_node_failed = default.wfengine_node_failed
wfengine_node_progress = default.wfengine_node_progress
wfengine_run_finished = default.wfengine_run_finished


@hookimpl
def wfengine_register_commands(cli: Any) -> None:
    """Add ``--log-json PATH`` and ``--log-json-values`` to the ``wf`` group."""
    from .cli import add_log_json_options

    add_log_json_options(cli)
