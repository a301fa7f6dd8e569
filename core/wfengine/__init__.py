"""wfengine: workflows as directed graphs of Python functions over a shared state dict."""

from __future__ import annotations

from .cache import CachePolicy
from .compose import Command, Send
from .engine import (
    Engine,
    get_condition_registry,
    get_engine,
    get_store_registry,
    get_tool_registry,
    get_workflow_registry,
)
from .errors import (
    ConditionError,
    GraphValidationError,
    NodeTimeoutError,
    RunActiveError,
    SpecError,
    StateConflictError,
    StepLimitError,
    WorkflowError,
)
from .executor import WorkflowExecutor
from .graph import END, Edge, Graph, Node
from .handle import RunHandle
from .interrupts import NodeInterrupt, interrupt
from .markers import hookimpl, hookspec
from .progress import emit
from .registry import ConditionRegistry, StoreRegistry, ToolRegistry, WorkflowRegistry
from .retry import RetryPolicy
from .run import Event, EventType, LogEntry, RunStatus, WorkflowRun
from .spec import dump_spec, load_spec
from .storage import GraphStore, MemoryStore, RunStore, Store
from .version import __version__

__all__ = [
    "Command",
    "ConditionError",
    "dump_spec",
    "load_spec",
    "ConditionRegistry",
    "Engine",
    "StoreRegistry",
    "ToolRegistry",
    "WorkflowRegistry",
    "get_condition_registry",
    "get_engine",
    "get_store_registry",
    "get_tool_registry",
    "get_workflow_registry",
    "hookimpl",
    "hookspec",
    "CachePolicy",
    "interrupt",
    "emit",
    "NodeInterrupt",
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
    "RunActiveError",
    "RunHandle",
    "RunStatus",
    "RunStore",
    "Send",
    "SpecError",
    "StateConflictError",
    "StepLimitError",
    "Store",
    "WorkflowError",
    "WorkflowExecutor",
    "WorkflowRun",
    "__version__",
]
