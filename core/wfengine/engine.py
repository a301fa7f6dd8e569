"""The :class:`Engine`: one plugin manager, its registries and store; the facade callers use.

An engine owns everything it uses, so two engines with different plugins can live in one
process and each test can build its own::

    engine = Engine(plugins=[my_plugin], load_entrypoints=False)
    run = engine.run("my-workflow", {"value": 10})

One engine is safe to use from many threads, for many concurrent runs.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import hookspecs, settings
from .backends import DEFAULT_BACKEND, BackendContext, BackendRegistry, backend_scheme, url_options
from .builtins import builtin_plugins
from .errors import RunActiveError, RunNotFoundError, UnknownNameError, WorkflowError
from .executor import WorkflowExecutor
from .graph import Graph
from .handle import RunHandle
from .hooks import Hooks, PluginManager
from .interrupts import NO_ANSWER
from .limits import RunLimits
from .markers import PROJECT
from .paths import PathPolicy
from .plugins import (
    PluginFailure,
    PluginInfo,
    load_entrypoint_plugins,
    plugin_object,
    report_failure,
)
from .registry import (
    ConditionRegistry,
    Registry,
    StoreRegistry,
    ToolRegistry,
    WorkflowRegistry,
)
from .run import Event, RunStatus, WorkflowRun
from .runner import NodeRunner, ThreadRunner
from .storage import QueueStore, Store, VersionedStore
from .versions import GraphChangedError, graph_version, short

log = logging.getLogger("wfengine.plugins")

GraphTarget = Graph | str | os.PathLike[str] | Mapping[str, Any]
"""What :meth:`Engine.run` accepts: a Graph, a workflow name, a stored graph id, a spec file
path, or a spec mapping."""


class Engine:
    """Plugins, registries, a store and the runs going on: everything a caller needs."""

    def __init__(
        self,
        plugins: Iterable[object] = (),
        *,
        load_entrypoints: bool = True,
        store: str | Store | None = None,
        limits: RunLimits | None = None,
        path_roots: Sequence[str | os.PathLike[str]] | None = None,
        backend: str | NodeRunner | None = None,
    ) -> None:
        self.limits = limits or RunLimits()
        """Bounds on every run (state size, retries, log length); see :class:`RunLimits`."""
        self.path_policy = PathPolicy(path_roots) if path_roots else None
        """When set, the paths tools declared are confined to these directories."""
        self.allow_calls = True
        """Whether specs may run ``call:`` import paths (the REST server turns it off)."""
        self._lock = threading.RLock()
        self._loading = threading.local()  # the subgraph names being resolved, per thread
        self._active: dict[str, WorkflowRun] = {}
        self._graphs: dict[str, Graph] = {}
        self._executors: weakref.WeakKeyDictionary[Graph, WorkflowExecutor] = (
            weakref.WeakKeyDictionary()
        )
        self._built_workflows: dict[str, Graph] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._backend: str | NodeRunner | None = backend
        self._runner: NodeRunner | None = backend if not isinstance(backend, str | None) else None
        self._owns_runner = False
        self._warned_remote = False
        self._stored_versions: set[str] = set()
        """Graph versions already saved in the store (so a run start does not save again)."""
        self._version_graphs: dict[str, Graph] = {}
        """Graphs rebuilt from stored spec versions, for resumes, by version."""
        self._infos: dict[str, PluginInfo] = {}
        self.plugin_failures: list[PluginFailure] = []
        self.tools = ToolRegistry()
        self.conditions = ConditionRegistry()
        self.stores = StoreRegistry()
        self.backends = BackendRegistry()
        self.workflows = WorkflowRegistry()
        self.pm = PluginManager(PROJECT)
        """The pluggy plugin manager; plugins registered on it directly take part too."""
        self.pm.add_hookspecs(hookspecs)
        self.hooks = Hooks(self.pm, self._registration_failed)
        """The hook facade: every hook call goes through it."""
        self.pm.listeners.append(self._plugins_changed)
        from .version import __version__

        for name, module in builtin_plugins():
            self._infos[name] = PluginInfo(
                name, module.__name__, "wfengine", __version__, builtin=True
            )
            self.pm.register(module, name=name)
        for plugin in plugins:
            self._register_object(plugin)
        if load_entrypoints:
            self.plugin_failures.extend(load_entrypoint_plugins(self.pm, self._infos))
        self.pm.check_pending()  # every remaining implementation matches a specification
        self._store: Store | None = (
            store if store is not None and not isinstance(store, str) else None
        )
        self._store_url = store if isinstance(store, str) else None

    # -- plugins -------------------------------------------------------------------------

    def _register_object(self, plugin: object, name: str | None = None) -> str:
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        plugin = plugin_object(plugin)
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self._infos.setdefault(name, PluginInfo(name, module))
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            self._infos.pop(name, None)
            raise WorkflowError(f"plugin '{name}' is blocked")
        return registered

    def register_plugin(self, plugin: object, name: str | None = None) -> str:
        """Add a plugin to a built engine; its registrations and hooks apply at once
        (``engine.pm.register(plugin)`` does the same). A class is instantiated first, as
        for ``Engine(plugins=[...])`` and entry points."""
        return self._register_object(plugin, name)

    def unregister_plugin(self, name: str) -> None:
        """Remove a plugin added by name; its tools, strategies and hooks go with it."""
        self.pm.unregister(name=name)

    def _registries(self) -> list[tuple[str, Registry[Any]]]:
        return [
            ("wfengine_register_stores", self.stores),
            ("wfengine_register_backends", self.backends),
            ("wfengine_register_conditions", self.conditions),
            ("wfengine_register_tools", self.tools),
            ("wfengine_register_workflows", self.workflows),
        ]

    def _plugins_changed(self, change: str, name: str | None) -> None:
        """Keep registries and hook dispatch in step with the plugin manager."""
        if change == "register" and name is not None:
            unknown = self.hooks.unknown_hooks(name)
            if unknown:
                self.pm.unregister(name=name)
                self._report(PluginFailure(name, "; ".join(unknown), "register"))
                return
            self.hooks.register_plugin_entries(name, self._registries())
        elif change == "unregister" and name is not None:
            for _hook, registry in self._registries():
                registry.unregister_plugin(name)
            self._infos.pop(name, None)
        self.hooks.refresh()
        with self._lock:  # executors hold the old dispatch and workflows the old tools
            self._built_workflows = {}
            self._executors = weakref.WeakKeyDictionary()

    def _registration_failed(self, plugin: str, exc: BaseException) -> None:
        self._report(PluginFailure(plugin, f"{type(exc).__name__}: {exc}", "register"))

    def _report(self, failure: PluginFailure) -> None:
        self.plugin_failures.append(failure)
        report_failure(failure)

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin (built-ins first) with the hooks it implements."""
        result = []
        for name, info in self._infos.items():
            plugin = self.pm.get_plugin(name)
            if plugin is None:
                continue
            info.hooks = sorted(hc.name for hc in (self.pm.get_hookcallers(plugin) or []))
            result.append(info)
        return result

    def register_commands(self, cli: Any) -> None:
        """Let plugins add subcommands to the ``wf`` group (each plugin isolated)."""
        self.hooks.register_commands(cli)

    # -- store and graphs ----------------------------------------------------------------

    @property
    def store_url(self) -> str:
        """The URL of the store: ``Engine(store=...)``, else ``WFENGINE_STORE``, else memory."""
        if self._store is not None:
            return _store_url(self._store)
        return self._store_url or os.environ.get("WFENGINE_STORE") or "memory://"

    @property
    def store(self) -> Store:
        """The engine's store, opened on first use (so listing plugins touches no database)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self.stores.open(self.store_url)
        return self._store

    def set_store(self, store: str | Store, *, keep_open: bool = False) -> None:
        """Choose the store before it is first used (the CLI's ``--store``). The store in use
        is closed unless ``keep_open`` (the new one wraps it, as a worker's does)."""
        with self._lock:
            if self._store is not None and not isinstance(store, str) and store is self._store:
                return
            if self._store is not None and not keep_open:
                self._store.close()
            self._store = None if isinstance(store, str) else store
            self._store_url = store if isinstance(store, str) else None
            self._executors = weakref.WeakKeyDictionary()
            self._stored_versions = set()

    def set_limits(
        self,
        limits: RunLimits | None = None,
        *,
        path_roots: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        """Change the bounds of the runs started from now on (the server tightens them)."""
        with self._lock:
            if limits is not None:
                self.limits = limits
            if path_roots is not None:
                self.path_policy = PathPolicy(path_roots) if path_roots else None
            self._executors = weakref.WeakKeyDictionary()

    def load_spec(self, source: Any, **limits: Any) -> Graph:
        """A graph from a spec: a mapping, YAML/JSON text, or a path to a YAML/JSON file."""
        from .spec import load_spec

        limits.setdefault("allow_calls", self.allow_calls)
        limits.setdefault("graphs", self._subgraph)
        return load_spec(source, tools=self.tools, conditions=self.conditions, **limits)

    def _subgraph(self, name: str) -> Graph:
        """The graph a spec's ``graph: NAME`` names; a graph that contains itself (through
        any chain of names) is a :class:`~wfengine.errors.SpecError`."""
        from .errors import SpecError

        loading: list[str] = self._loading.__dict__.setdefault("names", [])
        if name in loading:
            chain = " -> ".join([*loading[loading.index(name) :], name])
            raise SpecError(f"subgraph '{name}' contains itself ({chain})")
        loading.append(name)
        try:
            return self.graph(name)[1]
        finally:
            loading.pop()

    def save_graph(self, spec: Mapping[str, Any] | Graph, graph_id: str | None = None) -> str:
        """Validate and store a graph spec; returns its id (a new uuid4 hex by default; a
        chosen id must pass :func:`~wfengine.graph_ids.check_graph_id`)."""
        import uuid

        from .graph_ids import check_graph_id
        from .spec import dump_spec

        if graph_id is not None:
            check_graph_id(graph_id, self.workflows)
        data = dump_spec(spec) if isinstance(spec, Graph) else dict(spec)
        self.load_spec(data)  # refuse a bad spec before storing it
        gid = graph_id or uuid.uuid4().hex
        self.store.save_graph(gid, data)
        with self._lock:  # a graph stored again under its id replaces the one in use
            self._graphs.pop(gid, None)
        return gid

    def graph(self, target: GraphTarget) -> tuple[str, Graph]:
        """Resolve ``target`` to ``(graph_id, graph)``.

        A string is tried as a registered workflow, then a stored graph id, then a spec file.
        """
        if isinstance(target, Graph):
            return target.name, target
        if isinstance(target, Mapping):
            graph = self.load_spec(target)
            return graph.name, graph
        name = os.fspath(target)
        if name in self.workflows:
            with self._lock:  # build each workflow once per engine: its executor is reused
                built = self._built_workflows.get(name)
                if built is None:
                    built = self._built_workflows[name] = self.workflows.build(name)
            return name, built
        with self._lock:
            known = self._graphs.get(name)
        if known is not None:
            return name, known
        spec = self.store.get_graph(name)
        if spec is not None:
            return name, self.load_spec(spec)
        if Path(name).suffix.lower() in {".yaml", ".yml", ".json"}:
            graph = self.load_spec(Path(name))
            return graph.name, graph
        close = difflib.get_close_matches(name, self.workflows.names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown workflow '{name}'{hint} (not a registered workflow, a stored graph id "
            "or a spec file .yaml/.yml/.json)"
        )

    def executor(
        self, graph: Graph, graph_id: str | None = None, *, current: bool = True
    ) -> WorkflowExecutor:
        """The (cached) executor running ``graph`` with this engine's hooks and store.

        ``current``: ``graph`` is what ``graph_id`` names from now on (``False`` for an old
        version a run resumes on)."""
        with self._lock:
            found = self._executors.get(graph)
            if found is None or (graph_id is not None and found.graph_id != graph_id):
                found = WorkflowExecutor(
                    graph,
                    emit=self.hooks.dispatch,
                    store=self.store,
                    graph_id=graph_id,
                    runner=self.runner,
                    limits=self.limits,
                    path_policy=self.path_policy,
                    tools=self.tools,
                )
                found.version = graph_version(graph)
                self._executors[graph] = found
            if current:
                self._graphs[found.graph_id] = graph
            return found

    # -- the execution backend ---------------------------------------------------------------

    @property
    def backend_url(self) -> str:
        """Where node calls run: ``Engine(backend=...)``, else ``WFENGINE_BACKEND``, else
        ``threads://`` (see ``docs/backends.md``)."""
        if self._backend is not None and not isinstance(self._backend, str):
            return f"{type(self._backend).__name__} (given)"
        return self._backend or os.environ.get("WFENGINE_BACKEND") or DEFAULT_BACKEND

    @property
    def runner(self) -> NodeRunner:
        """The backend's :class:`~wfengine.runner.NodeRunner`, opened on first use."""
        if self._runner is None:
            with self._lock:
                if self._runner is None:
                    self._runner = self._open_backend(self.backend_url)
                    self._owns_runner = True
        return self._runner

    def set_backend(self, backend: str | NodeRunner) -> None:
        """Run node calls of later runs on ``backend`` (a URL or a runner). A URL is opened
        at once, so a bad one is an error here and the engine keeps its backend; the old
        backend is closed when this engine opened it."""
        runner = self._open_backend(backend) if isinstance(backend, str) else backend
        with self._lock:
            old, owned = self._runner, self._owns_runner
            self._backend = backend
            self._runner = runner
            self._owns_runner = isinstance(backend, str)
            self._executors = weakref.WeakKeyDictionary()
        if old is not None and owned and old is not runner:
            old.close()

    def _open_backend(self, url: str) -> NodeRunner:
        if backend_scheme(url) == "threads":
            url_options(url, {})
            return ThreadRunner(settings.max_workers(), self._shared_pool())
        context = BackendContext(
            tools=self.tools,
            installed_tools=self._installed_tools(),
            max_workers=settings.max_workers(),
            load_tools=installed_tools,
        )
        return self.backends.create(url, context)

    def _warn_remote_memory(self, executor: WorkflowExecutor) -> None:
        """Once per engine: runs on a remote backend with a memory store cannot resume."""
        if self._warned_remote or isinstance(executor.runner, ThreadRunner):
            return
        if self.store.durable:
            return
        self._warned_remote = True
        warnings.warn(
            f"backend {self.backend_url} with store {self.store_url}: a run that stops "
            "half-way (a lost driver, a failed node) cannot be resumed from a memory store; "
            "use a durable store (--store sqlite:///runs.db) for runs you may resume",
            RemoteMemoryStoreWarning,
            stacklevel=4,
        )

    def _installed_tools(self) -> frozenset[str]:
        """Tools that entry-point plugins (installed distributions) registered."""
        from_entry_points = {name for name, info in self._infos.items() if info.distribution}
        return frozenset(
            entry.name for entry in self.tools.entries() if entry.plugin in from_entry_points
        )

    def _shared_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                settings.max_workers(), thread_name_prefix="wfengine-node"
            )
        return self._pool

    # -- runs ----------------------------------------------------------------------------

    def start(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> RunHandle:
        """Prepare a run (saved as ``pending``) without running it: drive the handle with
        :meth:`RunHandle.result` or :meth:`RunHandle.events`; see :meth:`run`."""
        executor, run = self._new_run(
            target,
            state,
            lambda _graph_id, executor: self._warn_remote_memory(executor),
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        )
        handle = self._claim(executor, run, resuming=False)
        self.store.save_run(run)
        return handle

    def submit(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> str:
        """Queue a run for a worker (``wf worker``) and return its id at once.

        The graph and state are checked as :meth:`start` checks them, the graph version is
        recorded and the run is saved ``queued`` at its entry point. The store must hand
        runs to workers (:class:`~wfengine.storage.QueueStore`, else
        :class:`~wfengine.submit.QueueUnsupportedError`), and the graph must be one a worker
        in another process can rebuild: a spec, a stored graph id or a registered workflow,
        not a Python graph object (:class:`~wfengine.submit.NotQueueableError`; see
        :mod:`wfengine.submit`)."""
        from .submit import check_queueable, require_queue

        store = require_queue(self.store)
        _executor, run = self._new_run(
            target,
            state,
            lambda graph_id, executor: check_queueable(
                store, self.workflows, graph_id, executor.version
            ),
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        )
        run.status = RunStatus.QUEUED
        store.save_run(run)
        return run.run_id

    def _new_run(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None,
        vet: Callable[[str, WorkflowExecutor], None],
        **options: Any,
    ) -> tuple[WorkflowExecutor, WorkflowRun]:
        """A new run of ``target`` (checked, its graph version recorded) and its executor;
        ``vet(graph_id, executor)`` may refuse the graph before anything is recorded."""
        graph_id, graph = self.graph(target)
        self.workflows.check_settings(graph_id, state, "initial state")
        executor = self.executor(graph, graph_id)
        vet(graph_id, executor)
        run = executor.new_run(state, **options)
        run.graph_version = self._record_version(executor)
        return executor, run

    def take_over(self, run_id: str, worker: str | None = None) -> RunHandle:
        """A handle for a run ``worker`` claimed (:mod:`wfengine.worker`): one that never ran
        starts at its entry as :meth:`start` would (``interrupt_before`` pauses its first
        step); one that ran before (a worker died or stopped) continues from its last
        checkpoint as :meth:`prepare_resume` does."""
        handle = self.prepare_resume(run_id, worker=worker)
        run = handle.run
        if run.step == 0 and not run.logs:
            handle._resuming = False
        return handle

    def _record_version(self, executor: WorkflowExecutor) -> str | None:
        """Keep the executor's graph version in the store (once per engine and store)."""
        version = executor.version
        if version is None:
            return None
        store = self.store
        if version.version not in self._stored_versions and isinstance(store, VersionedStore):
            store.save_graph_version(version.to_dict())
            with self._lock:
                self._stored_versions.add(version.version)
        return version.version

    def run(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """Run a graph, workflow name, stored graph id or spec to its end; returns the run."""
        return self.start(
            target,
            state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        ).result()

    async def arun(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """Async :meth:`run`."""
        handle = self.start(
            target,
            state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        )
        return await handle.aresult()

    def stream(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> Iterator[Event]:
        """Run in a worker thread, yielding events as they happen (``event.run_id`` names it).
        Nothing starts before the first event is asked for; :meth:`start` then
        :meth:`RunHandle.events` is the same with the run known (and bad input raised) first."""
        yield from self.start(
            target,
            state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        ).events()

    def stream_resume(
        self,
        run_id: str,
        state_patch: Mapping[str, Any] | None = None,
        *,
        graph: GraphTarget | None = None,
        max_steps: int | None = None,
        allow_changed_graph: bool = False,
        answer: Any = NO_ANSWER,
        budget: Mapping[str, float] | None = None,
    ) -> Iterator[Event]:
        """:meth:`resume`, yielding the events as they happen."""
        yield from self.prepare_resume(
            run_id,
            state_patch,
            graph=graph,
            max_steps=max_steps,
            allow_changed_graph=allow_changed_graph,
            answer=answer,
            budget=budget,
        ).events()

    async def astream(
        self,
        target: GraphTarget,
        state: Mapping[str, Any] | None = None,
        *,
        max_steps: int | None = None,
        interrupt_before: Sequence[str] = (),
        interrupt_after: Sequence[str] = (),
        budget: Mapping[str, float] | None = None,
    ) -> AsyncIterator[Event]:
        """Async :meth:`stream`."""
        handle = self.start(
            target,
            state,
            max_steps=max_steps,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            budget=budget,
        )
        async for event in handle.aevents():
            yield event

    def resume(
        self,
        run_id: str,
        state_patch: Mapping[str, Any] | None = None,
        *,
        graph: GraphTarget | None = None,
        max_steps: int | None = None,
        allow_changed_graph: bool = False,
        answer: Any = NO_ANSWER,
        budget: Mapping[str, float] | None = None,
    ) -> WorkflowRun:
        """Continue a paused, failed, cancelled or crashed run from its last completed step.

        The graph is the version the run recorded (see :meth:`prepare_resume`) unless given.
        ``state_patch`` replaces keys of the state before the run goes on; ``answer``
        answers the run's pending ``interrupt()`` question (``{node: answer}`` for several;
        see :mod:`wfengine.interrupts` and ``docs/human-in-the-loop.md``).
        """
        return self.prepare_resume(
            run_id,
            state_patch,
            graph=graph,
            max_steps=max_steps,
            allow_changed_graph=allow_changed_graph,
            answer=answer,
            budget=budget,
        ).result()

    def prepare_resume(
        self,
        run_id: str,
        state_patch: Mapping[str, Any] | None = None,
        *,
        graph: GraphTarget | None = None,
        max_steps: int | None = None,
        allow_changed_graph: bool = False,
        answer: Any = NO_ANSWER,
        budget: Mapping[str, float] | None = None,
        worker: str | None = None,
    ) -> RunHandle:
        """Load a run and make it ready to continue: a handle that :meth:`resume` drives.

        The run continues on the graph version it recorded (:mod:`wfengine.versions`): a
        spec version from the store, whatever its graph id names now; a Python graph by its
        id, refused with :class:`~wfengine.versions.GraphChangedError` when its fingerprint
        changed, unless ``allow_changed_graph``. ``graph`` overrides all that. A run that is
        active in this engine (being driven, or prepared by another handle) is refused with
        :class:`~wfengine.errors.RunActiveError`, and so is a run a ``wf worker`` holds (a
        live claim in a :class:`~wfengine.storage.QueueStore`), unless ``worker`` names
        that worker (:meth:`take_over`).
        """
        self._check_inactive(run_id)
        run = self.store.get_run(run_id)
        if run is None:
            raise RunNotFoundError(f"run '{run_id}' not found in store {_store_url(self.store)}")
        if run.status == RunStatus.QUEUED:  # a worker may claim it any moment: never twice
            raise WorkflowError(
                f"run {run_id} is queued for a worker (`wf worker`), which runs it when it "
                "claims it; to run it here instead, cancel it first (wf runs cancel) and "
                "resume it then"
            )
        if run.status == RunStatus.RUNNING and isinstance(self.store, QueueStore):
            holder = self.store.claim_of(run_id)
            if holder is not None and holder != worker:
                raise RunActiveError(
                    f"run {run_id} is being driven by worker {holder!r} (wf worker); cancel "
                    "it first (wf runs cancel), or wait until it stops"
                )
        if graph is not None:
            _gid, resolved = self.graph(graph)
        else:
            resolved = self._graph_of(run, allow_changed_graph)
        missing = [n for n in run.next_nodes if n not in resolved.nodes]
        if missing:
            raise GraphChangedError(
                f"run {run_id} cannot resume: it stopped before node(s) "
                f"{', '.join(repr(n) for n in missing)}, which graph '{run.graph_id}' no longer "
                "has (it was changed or stored again under its id)"
            )
        self.workflows.check_settings(run.graph_id, state_patch, "state patch")
        executor = self.executor(resolved, run.graph_id, current=graph is not None)
        handle = self._claim(executor, run, resuming=True)
        try:
            executor._prepare_resume(run, state_patch, max_steps, answer, budget)
        except BaseException:
            handle.close()
            raise
        return handle

    # -- the runs going on ---------------------------------------------------------------

    def _claim(self, executor: WorkflowExecutor, run: WorkflowRun, *, resuming: bool) -> RunHandle:
        """A handle for ``run``, which counts as active here until the handle lets it go."""
        run_id = run.run_id
        with self._lock:
            if run_id in self._active:
                raise RunActiveError(_active_message(run_id))
            self._active[run_id] = run
        active, lock = self._active, self._lock

        def release() -> None:
            with lock:
                if active.get(run_id) is run:
                    del active[run_id]

        return RunHandle(executor, run, resuming=resuming, release=release)

    def _check_inactive(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._active:
                raise RunActiveError(_active_message(run_id))

    def active_run(self, run_id: str) -> WorkflowRun | None:
        """The live run object while ``run_id`` is active in this engine, else ``None``."""
        with self._lock:
            return self._active.get(run_id)

    def active_runs(self) -> list[WorkflowRun]:
        """The runs active in this engine now (being driven or prepared by a handle)."""
        with self._lock:
            return list(self._active.values())

    def _graph_of(self, run: WorkflowRun, allow_changed: bool) -> Graph:
        """The graph ``run`` resumes on: the version it recorded (see :meth:`prepare_resume`)."""
        stored = None
        if run.graph_version is not None and isinstance(self.store, VersionedStore):
            stored = self.store.get_graph_version(run.graph_version)
        if stored is not None and stored.get("spec") is not None:
            with self._lock:
                known = self._version_graphs.get(run.graph_version or "")
            if known is None:
                known = self.load_spec(stored["spec"])
                with self._lock:
                    self._version_graphs[run.graph_version or ""] = known
            return known
        try:
            _gid, resolved = self.graph(run.graph_id)
        except UnknownNameError as exc:
            raise GraphChangedError(
                f"run {run.run_id} cannot resume: its graph '{run.graph_id}' is no longer "
                f"available ({exc}) and the store holds no spec of the version it ran"
            ) from None
        if run.graph_version is not None and not allow_changed:
            now = self.executor(resolved, run.graph_id).version
            if now is not None and now.version != run.graph_version:
                raise GraphChangedError(
                    f"run {run.run_id} ran {short(run.graph_id, run.graph_version)}, but graph "
                    f"'{run.graph_id}' is now {now.label}: its Python code or structure "
                    "changed since. Resume anyway with --allow-changed-graph "
                    "(allow_changed_graph=True) if the change is safe for a run half done"
                )
        return resolved

    def get_run(self, run_id: str) -> WorkflowRun:
        """The run (live when it is running here, else from the store)."""
        with self._lock:
            active = self._active.get(run_id)
        if active is not None:
            return active
        run = self.store.get_run(run_id)
        if run is None:
            raise RunNotFoundError(f"run '{run_id}' not found in store {_store_url(self.store)}")
        return run

    def cancel(self, run_id: str) -> WorkflowRun:
        """Cancel a run: a running one stops before its next step; a paused or failed one is
        marked ``cancelled`` at once. A completed run cannot be cancelled.

        A run driven elsewhere (a worker, on any machine) is cancelled through the store
        when it is a :class:`~wfengine.storage.QueueStore`: a claimed run is flagged and its
        worker cancels it between steps (the run returned is then still ``running``); a
        queued one is cancelled at once."""
        with self._lock:
            active = self._active.get(run_id)
        if active is not None:
            active.cancel()
            return active
        run = self.get_run(run_id)
        if run.status.is_final and run.status != RunStatus.FAILED:
            raise WorkflowError(f"run {run_id} is already {run.status.value}")
        store = self.store
        if not run.status.is_final and isinstance(store, QueueStore):
            if not store.request_cancel(run_id):  # it ended meanwhile
                run = self.get_run(run_id)
                raise WorkflowError(f"run {run_id} is already {run.status.value}")
            return self.get_run(run_id)
        run.status = RunStatus.CANCELLED
        self.store.save_run(run)
        return run

    def close(self) -> None:
        """Close the store and stop the worker threads."""
        if self._store is not None:
            self._store.close()
        if self._runner is not None and self._owns_runner:
            self._runner.close()
            self._runner = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _active_message(run_id: str) -> str:
    return f"run {run_id} is already running (or being resumed) in this process"


def _store_url(store: Store) -> str:
    return str(getattr(store, "url", type(store).__name__))


_default_engine: Engine | None = None
_default_lock = threading.Lock()


class RemoteMemoryStoreWarning(UserWarning):
    """A remote backend with a memory store: runs cannot be resumed after a failure."""


def installed_tools() -> ToolRegistry:
    """The tools of the plugins installed in this process (a worker process calls this to
    find installed tools by name)."""
    return Engine(store="memory://", backend="threads://").tools


def get_engine() -> Engine:
    """The process's default engine (entry-point plugins, store from ``WFENGINE_STORE``),
    created on first use. Prefer an :class:`Engine` of your own in applications."""
    global _default_engine
    if _default_engine is None:
        with _default_lock:
            if _default_engine is None:
                _default_engine = Engine()
    return _default_engine


def reset_default_engine() -> None:
    """Forget the default engine (tests use this after changing the environment)."""
    global _default_engine
    with _default_lock:
        if _default_engine is not None:
            _default_engine.close()
        _default_engine = None


def get_tool_registry() -> ToolRegistry:
    """The default engine's tool registry (the seed's name)."""
    return get_engine().tools


def get_condition_registry() -> ConditionRegistry:
    """The default engine's condition strategies."""
    return get_engine().conditions


def get_workflow_registry() -> WorkflowRegistry:
    """The default engine's workflows."""
    return get_engine().workflows


def get_store_registry() -> StoreRegistry:
    """The default engine's storage backends."""
    return get_engine().stores
