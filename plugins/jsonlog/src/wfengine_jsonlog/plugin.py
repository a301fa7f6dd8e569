"""The entry point (``jsonlog = "wfengine_jsonlog.plugin:EntryPointPlugin"``).

The entry point names a class, so every engine makes an instance of its own (see
:func:`wfengine.plugins.plugin_object`): two engines in one process never share an open
destination. The instance follows the environment, off until ``WFENGINE_JSONLOG`` names a
destination; ``wf --log-json PATH`` configures the instance of ``wf``'s engine instead.
"""

from __future__ import annotations

from typing import Any

from wfengine import hookimpl

from .hooks import JsonLogPlugin


class EntryPointPlugin(JsonLogPlugin):
    """A :class:`JsonLogPlugin` following ``WFENGINE_JSONLOG``, which also adds the
    ``--log-json`` options to ``wf``."""

    def __init__(self) -> None:
        super().__init__()

    @hookimpl
    def wfengine_register_commands(self, cli: Any) -> None:
        """Add ``--log-json PATH`` and ``--log-json-values`` to the ``wf`` group."""
        from .cli import add_log_json_options

        add_log_json_options(cli)
