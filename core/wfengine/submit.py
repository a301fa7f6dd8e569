"""Submitting runs to the queue (:meth:`Engine.submit <wfengine.engine.Engine.submit>`,
``wf run --queue``, ``POST /graph/run`` with ``queue: true``), and which graphs can be.

A queued run is driven later by a ``wf worker``, usually another process on another
machine, which rebuilds the graph from what it can reach itself. So a run is queued only
when its graph is one a worker can rebuild:

* a **spec** (a spec file, a mapping, a stored graph id, a registered workflow of tool
  nodes) on a store that keeps graph versions: the store holds the exact spec, and the
  worker runs that version whatever its graph id names later;
* a graph a **stored graph id** names (on a store without versions);
* a **registered workflow** (``wfengine_register_workflows``): the worker builds it from the
  same plugin, which it must have installed (at the same code: a changed Python graph is
  refused on the worker, as ``resume`` refuses it).

A Python :class:`~wfengine.graph.Graph` object made in the submitting process is none of
these, and :class:`NotQueueableError` says so before anything is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import StoreError, WorkflowError
from .storage import QueueStore, VersionedStore
from .versions import SPEC

if TYPE_CHECKING:
    from .registry import WorkflowRegistry
    from .storage import Store
    from .versions import GraphVersion


class QueueUnsupportedError(StoreError):
    """The store cannot hand runs to workers (it lacks the ``QueueStore`` capability)."""


class NotQueueableError(WorkflowError):
    """A graph a worker in another process could not rebuild (a Python object)."""


def require_queue(store: Store) -> Any:
    """``store`` as a :class:`~wfengine.storage.QueueStore`, or a clear error."""
    if not isinstance(store, QueueStore):
        url = getattr(store, "url", type(store).__name__)
        raise QueueUnsupportedError(
            f"the store {url} cannot queue runs for workers (it lacks the QueueStore "
            "capability); use a store that can, such as sqlite:///runs.db (workers on one "
            "machine) or postgresql://user@host/db (wfengine-postgres)"
        )
    return store


def check_queueable(
    store: Store, workflows: WorkflowRegistry, graph_id: str, version: GraphVersion | None
) -> None:
    """Refuse (:class:`NotQueueableError`) a graph no worker could rebuild (module doc):
    ``version`` is the graph's, ``workflows`` the registered workflows."""
    if version is not None and version.kind == SPEC and isinstance(store, VersionedStore):
        return
    if graph_id in workflows:
        return
    if (version is None or version.kind == SPEC) and store.get_graph(graph_id) is not None:
        return
    raise NotQueueableError(
        f"graph '{graph_id}' cannot be queued: it is a Python graph object that a worker in "
        "another process cannot rebuild. Queue a spec (a spec file, a mapping or a stored "
        "graph id), or register the graph as a workflow (wfengine_register_workflows) in a "
        "plugin the workers load too and submit it by that name"
    )
