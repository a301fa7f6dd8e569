"""The pluggy markers of the ``wfengine`` project.

Plugins decorate their hook implementations with :data:`hookimpl`::

    from wfengine import hookimpl

    @hookimpl
    def wfengine_register_tools(registry):
        registry.register("shout", lambda state: {"text": state["text"].upper()}, "Upper-case")
"""

from __future__ import annotations

import pluggy

PROJECT = "wfengine"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification in :mod:`wfengine.hookspecs`."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's implementation of a hook."""
