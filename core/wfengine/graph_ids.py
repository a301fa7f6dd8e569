"""What a stored graph's id may be: one rule for the CLI, the REST API and embedding code.

An id names a graph in the store and in URLs (``/graph/{graph_id}``), so it is short, plain
text: a letter, digit or ``_`` first, then letters, digits and ``_ . : -`` (no ``/``, no
``..`` path, no spaces), at most 128 characters. It may not be the name of a registered
workflow: ``wf run NAME`` and ``POST /graph/run`` would then mean two graphs.
"""

from __future__ import annotations

import re
from collections.abc import Container

from .errors import WorkflowError

GRAPH_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$"
"""The pattern every stored graph id matches."""

_GRAPH_ID = re.compile(GRAPH_ID_PATTERN.removesuffix("$") + r"\Z")


class InvalidGraphIdError(WorkflowError, ValueError):
    """A graph id that does not match :data:`GRAPH_ID_PATTERN`."""

    def __init__(self, message: str, graph_id: str) -> None:
        super().__init__(message)
        self.graph_id = graph_id


class GraphIdTakenError(InvalidGraphIdError):
    """A graph id that is the name of a registered workflow."""


def check_graph_id(graph_id: str, workflows: Container[str] = ()) -> str:
    """``graph_id`` when it may name a stored graph; else :class:`InvalidGraphIdError` (or
    :class:`GraphIdTakenError` when it is one of ``workflows``' names) saying why."""
    if not isinstance(graph_id, str) or not _GRAPH_ID.match(graph_id):
        raise InvalidGraphIdError(
            f"invalid graph id {graph_id!r}: use 1-128 letters, digits and _ . : - "
            "(starting with a letter, digit or _)",
            str(graph_id),
        )
    if graph_id in workflows:
        raise GraphIdTakenError(
            f"{graph_id!r} is the name of a registered workflow; choose another graph id",
            graph_id,
        )
    return graph_id
