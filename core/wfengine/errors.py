"""The exceptions wfengine raises; each says what was wrong and where."""

from __future__ import annotations

from typing import Any


class WorkflowError(Exception):
    """Base class of every error wfengine raises on purpose."""


class GraphValidationError(WorkflowError, ValueError):
    """A graph is not well formed (unknown node, missing entry point, ...).

    ``problems`` lists every problem found, not only the first.
    """

    def __init__(self, graph: str, problems: list[str]) -> None:
        self.graph = graph
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"graph '{graph}' is invalid:\n{lines}")


class SpecError(WorkflowError, ValueError):
    """A declarative graph spec is invalid; ``where`` is its location (``edges[3].when``)."""

    def __init__(self, message: str, where: str | None = None, source: str | None = None) -> None:
        self.where = where
        self.source = source
        self.message = message
        prefix = ""
        if source:
            prefix += f"{source}: "
        if where:
            prefix += f"{where}: "
        super().__init__(prefix + message)


class SpecLimitError(SpecError):
    """A spec is larger than a limit allows (``limit``; it has ``actual``)."""

    def __init__(
        self, message: str, where: str, source: str | None = None, *, limit: int, actual: int
    ) -> None:
        super().__init__(message, where, source)
        self.limit = limit
        self.actual = actual


class ConditionError(SpecError):
    """A condition (as data or an expression string) is invalid."""


class StepLimitError(WorkflowError):
    """A run took more steps than its limit."""


class NodeTimeoutError(WorkflowError, TimeoutError):
    """A node did not return within its timeout."""


class StateConflictError(WorkflowError):
    """Two nodes of one step wrote different values to one key that has no reducer."""


class RegistryError(WorkflowError, ValueError):
    """A registry was given a bad or duplicate entry, or asked for an unknown name."""


class UnknownNameError(RegistryError, KeyError):
    """An unknown tool, workflow, condition strategy or store scheme was asked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownSettingError(RegistryError):
    """A run of a workflow that declares its settings was given a state key it does not
    accept; ``unknown`` lists those keys, ``valid`` the declared ones."""

    def __init__(
        self, message: str, *, workflow: str, unknown: list[str], valid: list[str]
    ) -> None:
        super().__init__(message)
        self.workflow = workflow
        self.unknown = list(unknown)
        self.valid = list(valid)


class RunNotFoundError(WorkflowError, KeyError):
    """No run with this id is in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class WorkerLostError(WorkflowError):
    """The worker running a node call died (killed, out of memory); the attempt failed and
    the node's retry policy decides whether it runs again (on another worker)."""


class UnpicklableStateError(WorkflowError):
    """A value a node call needs cannot be sent to a worker process; ``where`` names its
    state key path (``state.conn``, ``state.items[3]``)."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


class RemoteNodeError(WorkflowError):
    """A node failed on a worker with an error that could not travel back as itself:
    ``type_name`` and ``remote_traceback`` say what it was."""

    def __init__(self, type_name: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.type_name, str(self).partition(": ")[2], self.remote_traceback))


class RunActiveError(WorkflowError):
    """The run is already being driven (or prepared to be) in this process."""


class PluginLoadError(WorkflowError):
    """A plugin failed to import or register (raised only in strict mode)."""


class StoreError(WorkflowError):
    """A store could not save or read something; the message names what."""


class HistoryUnsupportedError(StoreError):
    """The store keeps no history of runs (state at a step, diffs, blame, forks)."""


class InvalidQueryError(StoreError, ValueError):
    """A bad argument to a store query: a ``list_runs`` cursor the store did not issue, a
    limit below 1 (a ``ValueError`` too, so callers that check arguments catch it)."""


class UnstorableValueError(StoreError, TypeError):
    """A value in the state (or a spec, or an error) has a type a store cannot keep faithfully.

    ``path`` says where (``state["rows"][3]["created"]``), ``value_type`` what was found.
    """

    def __init__(self, path: str, value_type: type, what: str = "") -> None:
        self.path = path
        self.value_type = value_type
        thing = f"{what} of {value_type!r}" if what else repr(value_type)
        super().__init__(
            f"{path}: cannot store {thing}; the SQLite store keeps JSON types (str, int, float, "
            "bool, None, list, dict) and datetime, date, time, timedelta, Decimal, UUID, bytes, "
            "bytearray, tuple, set, frozenset and pathlib paths. Convert the value (e.g. to a "
            "dict or str) before a node returns it."
        )
