"""What a node may return besides an update: where to go next, and copies to fan out to.

* :class:`Command` (LangGraph's ``Command(goto=..., update=...)``): an update together with
  the next node(s), for a router whose decision is the work itself. The targets must be
  among the node's declared ``routes`` (``graph.add_node(..., routes=[...])``, spec
  ``routes:``), so validation and drawings know them. A command's ``goto`` replaces the
  node's static edges for that step.
* :class:`Send` (LangGraph's ``Send``): a node returns ``[Send("summarise", {"doc": d}) for d
  in docs]`` and, in the same step, one copy of ``summarise`` runs per ``Send``, each seeing
  the state overlaid with its item. The copies' updates merge through the keys' reducers in
  input order, then the sending node's edges fire (the copies' own edges are not followed).
* :class:`MapOver`: the function of a spec map node
  ``{map: {over: docs, as: doc, node: summarise, max_parallel: 8}}``: one ``Send`` per item.
* :class:`Router` (``graph.add_router(source, func, targets=[...])``, LangGraph's
  ``add_conditional_edges``): a function on a node's way out that returns where to go next,
  node names and/or ``Send`` objects. Its sends run in the *next* step, in the router's
  dispatch node ``source@send`` (:class:`RouterSends`); the copies' own edges are the join.

See ``docs/composition.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import WorkflowError


class Send:
    """Run one copy of node ``node`` with the state overlaid with ``item`` (a mapping of
    keys to values the copy sees; its writes still merge into the run's state)."""

    __slots__ = ("node", "item")

    def __init__(self, node: str, item: Mapping[str, Any] | None = None) -> None:
        if not isinstance(node, str) or not node:
            raise TypeError(f"Send needs a node name, got {node!r}")
        if item is not None and not isinstance(item, Mapping):
            raise TypeError(
                f"Send({node!r}, item): item must be a mapping of state keys the copy sees, "
                f"got {type(item).__name__}"
            )
        self.node = node
        self.item: Mapping[str, Any] = item or {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Send) and (other.node, other.item) == (self.node, self.item)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Send({self.node!r}, {dict(self.item)!r})"


class Command:
    """A node's update together with where the run goes next.

    ``goto``: a node name (or ``END``), a list of them, :class:`Send` objects, or a mix;
    names replace the node's static edges for this step (``None``: the edges apply).
    ``update``: the keys the node changes, as a plain return value would be.
    """

    __slots__ = ("goto", "update")

    def __init__(
        self,
        goto: str | Send | Sequence[str | Send] | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> None:
        self.goto = goto
        self.update = update

    def targets(self) -> tuple[list[str] | None, list[Send]]:
        """``(node names or None, sends)`` this command goes to."""
        goto = self.goto
        if goto is None:
            return None, []
        items: Sequence[Any] = [goto] if isinstance(goto, str | Send) else goto
        names: list[str] = []
        sends: list[Send] = []
        for item in items:
            if isinstance(item, Send):
                sends.append(item)
            elif isinstance(item, str):
                names.append(item)
            else:
                raise WorkflowError(
                    f"Command(goto=...) takes node names and Send objects, got {item!r}"
                )
        return (names or None), sends

    def __repr__(self) -> str:
        return f"Command(goto={self.goto!r}, update={self.update!r})"


def sends_of(value: Any) -> list[Send] | None:
    """``value`` as a list of sends when it is a non-empty list/tuple of :class:`Send` (or an
    empty one returned by a map), else ``None``."""
    if isinstance(value, list | tuple) and all(isinstance(v, Send) for v in value):
        return list(value)
    return None


class MapOver:
    """A spec map node's function: one :class:`Send` of ``node`` per item of ``state[over]``,
    the item under the key ``as_``."""

    __slots__ = ("over", "as_", "node", "__name__", "__qualname__")

    def __init__(self, over: str, as_: str, node: str) -> None:
        self.over = over
        self.as_ = as_
        self.node = node
        self.__name__ = self.__qualname__ = f"map({over} -> {node})"

    def __call__(self, state: Mapping[str, Any]) -> list[Send]:
        items = state.get(self.over)
        if items is None:
            raise WorkflowError(
                f"map over '{self.over}': the state has no key '{self.over}' (give the run a "
                f"list under '{self.over}', or have an earlier node write it)"
            )
        if isinstance(items, str | bytes | Mapping) or not hasattr(items, "__iter__"):
            raise WorkflowError(
                f"map over '{self.over}': expected a list, got {type(items).__name__}"
            )
        as_, node = self.as_, self.node
        return [Send(node, {as_: item}) for item in items]

    def to_dict(self) -> dict[str, Any]:
        """The map as spec data (``over``, ``as``, ``node``)."""
        return {"over": self.over, "as": self.as_, "node": self.node}


DISPATCH = "@send"
"""The suffix of a router's dispatch node: ``plan@send`` runs the sends of ``plan``'s router."""


class Router:
    """A routing function on node ``source``'s way out (:meth:`Graph.add_router
    <wfengine.graph.Graph.add_router>`): ``func(state)`` returns a node name (or ``END``), a
    :class:`Send`, or a list of them; ``targets`` declares every node it may name or send to.

    Names join the node's other next nodes; sends run as copies in the next step, in the
    dispatch node ``source@send``, at most ``max_parallel`` at a time."""

    __slots__ = ("source", "func", "targets", "max_parallel")

    def __init__(
        self,
        source: str,
        func: Any,
        targets: Sequence[str],
        max_parallel: int | None = None,
    ) -> None:
        self.source = source
        self.func = func
        self.targets = tuple(targets)
        self.max_parallel = max_parallel

    @property
    def dispatch(self) -> str:
        """The name of the node that runs this router's sends (``source@send``)."""
        return self.source + DISPATCH

    @property
    def name(self) -> str:
        """The router function's name (for messages and drawings)."""
        return str(getattr(self.func, "__name__", None) or type(self.func).__name__)

    def decide(self, state: Mapping[str, Any]) -> tuple[list[str], list[Send] | None]:
        """``(names, sends)`` the router returns for ``state``: ``sends`` is ``None`` when it
        returned only names, a list (maybe empty: a map over zero items) otherwise. Raises a
        :class:`WorkflowError` naming the node for anything else."""
        value = self.func(state)
        if isinstance(value, str | Send):
            value = [value]
        elif not isinstance(value, list | tuple):
            raise WorkflowError(self._bad(value))
        names: list[str] = []
        sends: list[Send] = []
        for item in value:
            if isinstance(item, Send):
                sends.append(item)
            elif isinstance(item, str):
                names.append(item)
            else:
                raise WorkflowError(self._bad(item))
        if sends or not names:
            return names, sends
        return names, None

    def sent_nodes(self, sends: Sequence[Send]) -> list[str]:
        """The nodes whose edges fire after a dispatch of ``sends`` (local names): the nodes
        sent to, in order; for zero sends the router's one declared node target."""
        if sends:
            return list(dict.fromkeys(s.node for s in sends))
        nodes = [t for t in self.targets if t != "END"]
        if len(nodes) != 1:
            raise WorkflowError(
                f"router {self.name} of node '{self.source}' returned an empty list (a map "
                f"over zero items), but it declares {len(nodes)} node targets "
                f"({', '.join(nodes) or 'none'}), so it is not clear whose edges follow; "
                "declare the one node it sends to, or return END"
            )
        return nodes

    def _bad(self, value: Any) -> str:
        return (
            f"router {self.name} of node '{self.source}' returned {value!r}; a router returns "
            "a node name, END, a Send, or a list of them"
        )

    def __repr__(self) -> str:
        return f"Router({self.source!r}, {self.name}, targets={list(self.targets)!r})"


class RouterSends:
    """The function of a router's dispatch node: the sends ``router`` returns for the state
    (run again at the start of the dispatch step, on the state the router saw)."""

    __slots__ = ("router", "__name__", "__qualname__")

    def __init__(self, router: Router) -> None:
        self.router = router
        self.__name__ = self.__qualname__ = f"sends of {router.name}"

    def __call__(self, state: Mapping[str, Any]) -> list[Send]:
        return self.router.decide(state)[1] or []
