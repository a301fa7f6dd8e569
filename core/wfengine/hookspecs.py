"""The hook specifications: the contract between wfengine and its plugins.

Registration hooks run once, when an :class:`~wfengine.Engine` is built; each receives a
registry and calls its ``register``. Lifecycle hooks are observers called while runs execute:
their return values are ignored, an exception in one is logged and does not fail the run, and
a hook no plugin implements costs nothing. ``docs/hooks.md`` documents each with an example.

A plugin implements any subset of these (and of each hook's arguments), marked with
:data:`wfengine.hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .markers import hookspec

if TYPE_CHECKING:
    import click

    from .backends import BackendRegistry
    from .registry import ConditionRegistry, StoreRegistry, ToolRegistry, WorkflowRegistry
    from .run import WorkflowRun


@hookspec
def wfengine_register_tools(registry: ToolRegistry) -> None:
    """Register tools: named callables that spec nodes run and code calls by name.

    Called once per engine. ``registry.register(name, func, description=None)``; a tool used
    as a node is called ``func(state, **params)`` and returns the keys it changes.

    :param registry: the engine's :class:`~wfengine.registry.ToolRegistry`.
    """


@hookspec
def wfengine_register_conditions(registry: ConditionRegistry) -> None:
    """Register condition strategies, used in specs as ``when: {strategy: NAME, ...}``.

    Called once per engine. ``registry.register(name, factory, description=None)`` where
    ``factory(spec, compile)`` returns ``predicate(state) -> bool``; ``spec`` is the condition
    mapping and ``compile`` turns a nested condition into a predicate.

    :param registry: the engine's :class:`~wfengine.registry.ConditionRegistry`.
    """


@hookspec
def wfengine_register_stores(registry: StoreRegistry) -> None:
    """Register storage backends by URL scheme.

    Called once per engine. ``registry.register(scheme, factory, description=None)`` where
    ``factory(url)`` returns a :class:`~wfengine.storage.Store`.

    :param registry: the engine's :class:`~wfengine.registry.StoreRegistry`.
    """


@hookspec
def wfengine_register_backends(registry: BackendRegistry) -> None:
    """Register execution backends (where node calls run) by URL scheme.

    Called once per engine. ``registry.register(scheme, factory, description=None)`` where
    ``factory(url, context)`` returns a :class:`~wfengine.runner.NodeRunner`; ``context`` is a
    :class:`~wfengine.backends.BackendContext`. The engine opens ``Engine(backend=URL)``,
    ``WFENGINE_BACKEND`` or ``threads://``.

    :param registry: the engine's :class:`~wfengine.backends.BackendRegistry`.
    """


@hookspec
def wfengine_register_workflows(registry: WorkflowRegistry) -> None:
    """Register ready-made workflows by name (``wf run data-quality``).

    Called once per engine. ``registry.register(name, graph_or_factory, description=None)``;
    a zero-argument factory is called each time the workflow is needed.

    :param registry: the engine's :class:`~wfengine.registry.WorkflowRegistry`.
    """


@hookspec
def wfengine_register_commands(cli: click.Group) -> None:
    """Add subcommands or options to the ``wf`` command line.

    Called once when ``wf`` starts, before arguments are parsed: ``cli.add_command(cmd)``.
    Import heavy modules inside the command, not at plugin import, to keep ``wf`` fast.

    :param cli: the ``wf`` :class:`click.Group`.
    """


@hookspec
def wfengine_run_started(run: WorkflowRun) -> None:
    """A run begins, or resumes (``run.step`` is then the last completed step).

    :param run: the run; ``run.run_id``, ``run.graph_id``, ``run.state``, ``run.status``.
    """


@hookspec
def wfengine_node_started(run: WorkflowRun, node: str, state: dict[str, Any], attempt: int) -> None:
    """A node attempt begins; called in the thread that runs the node.

    :param run: the run (``run.step + 1`` is the step this node belongs to).
    :param node: the node's name.
    :param state: the copy of the state the node is given; do not mutate it.
    :param attempt: 1 for the first attempt, 2 for the first retry, ...
    """


@hookspec
def wfengine_node_finished(
    run: WorkflowRun, node: str, update: Any, duration: float, attempt: int
) -> None:
    """A node attempt returned.

    :param run: the run.
    :param node: the node's name.
    :param update: what the node returned (a mapping of changed keys, or ``None``).
    :param duration: seconds the attempt took.
    :param attempt: which attempt succeeded.
    """


@hookspec
def wfengine_node_progress(run: WorkflowRun, node: str, kind: str, data: Any) -> None:
    """A running node called ``wfengine.emit(kind, data)`` (called in the node's thread).

    :param run: the run.
    :param node: the node's name.
    :param kind: what the node says it is (``"progress"``, ``"token"``, ``"cost"``...).
    :param data: the node's data (JSON-able; ``{"done": n, "total": m}`` for progress).
    """


@hookspec
def wfengine_node_failed(
    run: WorkflowRun, node: str, error: BaseException, attempt: int, will_retry: bool
) -> None:
    """A node attempt raised (or timed out).

    :param run: the run.
    :param node: the node's name.
    :param error: the exception.
    :param attempt: which attempt failed.
    :param will_retry: ``True`` when the retry policy runs the node again.
    """


@hookspec
def wfengine_run_finished(run: WorkflowRun) -> None:
    """A run reached ``completed``, ``failed``, ``cancelled`` or ``paused``.

    :param run: the run; ``run.status``, ``run.error``, ``run.state``, ``run.logs``.
    """
