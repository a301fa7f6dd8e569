"""A :class:`RunHandle`: one run the engine prepared, driven once, by whoever holds it.

:meth:`Engine.start <wfengine.engine.Engine.start>` (a new run) and
:meth:`Engine.prepare_resume <wfengine.engine.Engine.prepare_resume>` (a stopped one) give
out a handle instead of the executor and run a caller had to pass back. Driving it is one
call, whichever way suits the caller::

    handle = engine.start("data-quality", {"source": "data.csv"})
    for event in handle.events():     # or: run = handle.result()
        print(event.type, event.node)

The engine is the one owner of the runs going on in a process: from the moment a handle is
made until its drive ends (or it is closed or dropped unused) the engine counts its run as
active, so :meth:`Engine.cancel <wfengine.engine.Engine.cancel>` reaches it and a second
resume of the same run id is refused with :class:`~wfengine.errors.RunActiveError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

from .errors import WorkflowError
from .executor import WorkflowExecutor
from .graph import Graph
from .run import Event, RunStatus, WorkflowRun

__all__ = ["RunHandle"]


class RunHandle:
    """One prepared run: drive it once with :meth:`result`, :meth:`events`,
    :meth:`aresult` or :meth:`aevents`; :meth:`cancel` stops it before its next step."""

    __slots__ = ("_driven", "_executor", "_release", "_resuming", "run")

    def __init__(
        self,
        executor: WorkflowExecutor,
        run: WorkflowRun,
        *,
        resuming: bool,
        release: Callable[[], None],
    ) -> None:
        self.run = run
        """The run (live: its status, state and logs change as it is driven)."""
        self._executor = executor
        self._resuming = resuming
        self._driven = False
        # the engine forgets the run when the drive ends, the handle is closed, or it is
        # dropped without being driven (__del__: an unused handle never leaks a claim)
        self._release: Callable[[], None] | None = release

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.run.run_id

    @property
    def graph(self) -> Graph:
        """The graph the run runs (for a resumed run: the version it recorded)."""
        return self._executor.graph

    @property
    def warnings(self) -> list[str]:
        """What validating the graph found worth saying (unreachable nodes, ...)."""
        return self._executor.warnings

    # -- driving ---------------------------------------------------------------------------

    def result(self) -> WorkflowRun:
        """Drive the run in this thread until it stops (completed, paused, failed or
        cancelled) and return it."""
        self._begin()
        try:
            return self._executor.run_existing(self.run, resuming=self._resuming)
        finally:
            self.close()

    async def aresult(self) -> WorkflowRun:
        """Drive the run on the running event loop (sync nodes go to threads)."""
        self._begin()
        try:
            return await self._executor.arun_existing(self.run, resuming=self._resuming)
        finally:
            self.close()

    def events(self) -> Iterator[Event]:
        """Drive the run in a worker thread, yielding its events as they happen. Closing the
        iterator early cancels the run before its next step."""
        self._begin()
        return self._events()

    def _events(self) -> Iterator[Event]:
        try:
            yield from self._executor.stream(run=self.run, resuming=self._resuming)
        finally:
            self.close()

    def aevents(self) -> AsyncIterator[Event]:
        """Drive the run on the event loop, yielding its events as they happen."""
        self._begin()
        return self._aevents()

    async def _aevents(self) -> AsyncIterator[Event]:
        try:
            async for event in self._executor.astream(run=self.run, resuming=self._resuming):
                yield event
        finally:
            self.close()

    def cancel(self) -> None:
        """Stop the run before its next step (it ends ``cancelled`` and can be resumed)."""
        self.run.cancel()

    def stop(self, status: RunStatus = RunStatus.PAUSED) -> None:
        """Stop the run after the step in flight without cancelling it: it is saved as
        ``status`` (``paused``; a worker shutting down uses ``queued``) and resumes from
        its last checkpoint (see :meth:`WorkflowRun.stop_after_step`)."""
        self.run.stop_after_step(status)

    def close(self) -> None:
        """Give the run up without driving it (the engine no longer counts it as active).
        A driven handle closes itself when its drive ends."""
        release, self._release = self._release, None
        if release is not None:
            release()

    def __del__(self) -> None:
        if getattr(self, "_release", None) is not None:  # dropped unused (or mid-drive)
            self.close()

    def __enter__(self) -> RunHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin(self) -> None:
        if self._driven:
            raise WorkflowError(f"run {self.run_id}: this handle was already driven once")
        if self._release is None:
            raise WorkflowError(f"run {self.run_id}: this handle was closed")
        self._driven = True

    def __repr__(self) -> str:
        state = "driven" if self._driven else "ready"
        status = self.run.status.value if isinstance(self.run.status, RunStatus) else "?"
        return f"<RunHandle {self.run_id} {status} ({state})>"
