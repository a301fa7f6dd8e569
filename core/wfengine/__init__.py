"""wfengine: workflows as directed graphs of Python functions over a shared state dict."""

from __future__ import annotations

from .errors import (
    GraphValidationError,
    NodeTimeoutError,
    SpecError,
    StateConflictError,
    StepLimitError,
    WorkflowError,
)
from .executor import WorkflowExecutor
from .graph import END, Edge, Graph, Node
from .retry import RetryPolicy
from .run import Event, EventType, LogEntry, RunStatus, WorkflowRun
from .storage import GraphStore, MemoryStore, RunStore, Store

__version__ = "0.1.0"

__all__ = [
    "END",
    "Edge",
    "Event",
    "EventType",
    "Graph",
    "GraphStore",
    "GraphValidationError",
    "LogEntry",
    "MemoryStore",
    "Node",
    "NodeTimeoutError",
    "RetryPolicy",
    "RunStatus",
    "RunStore",
    "SpecError",
    "StateConflictError",
    "StepLimitError",
    "Store",
    "WorkflowError",
    "WorkflowExecutor",
    "WorkflowRun",
    "__version__",
]
