"""``DaskRunner``: a wfengine :class:`~wfengine.runner.NodeRunner` on a Dask cluster.

``dask://host:8786`` connects to a running scheduler (``dask scheduler`` + ``dask worker``
processes on any machines); ``dask://local?workers=N`` starts a ``LocalCluster`` of ``N``
single-threaded worker processes for the engine's lifetime and closes it with the engine.

Each node call becomes one Dask task running :func:`wfengine_dask.worker.run_call` on the
bytes of a :class:`~wfengine.remote.RemoteCall`; its answer is the bytes of a
:class:`~wfengine.remote.RemoteOutcome`. Dask retries nothing (``retries=0`` on every task,
and ``allowed-failures`` 0 on a local cluster): retries belong to the driver. A task whose
worker died comes back as :class:`~wfengine.errors.WorkerLostError`. A call past its node's
timeout is abandoned (its task cancelled): Dask cannot stop a task that already runs.
"""

from __future__ import annotations

import itertools
import pickle
import threading
from concurrent.futures import Future
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

from wfengine.backends import BackendContext, url_options
from wfengine.errors import (
    NodeTimeoutError,
    RegistryError,
    RemoteNodeError,
    WorkerLostError,
)
from wfengine.remote import RemoteCall, RemoteOutcome, RemoteRunner, finish
from wfengine.runner import NodeCall, Outcome

from .worker import run_call

_ids = itertools.count()
SEND_INTERVAL = 0.0005
"""Seconds the client may hold a submitted task before sending it to the scheduler."""


def _answer_promptly(dask_worker: Any) -> None:
    """On a worker of a local cluster: send results to the scheduler without batching."""
    stream = getattr(dask_worker, "batched_stream", None)
    if stream is not None and isinstance(getattr(stream, "interval", None), float):
        stream.interval = min(stream.interval, SEND_INTERVAL)


def make_dask_runner(url: str, context: BackendContext) -> DaskRunner:
    """The ``dask://`` factory."""
    return DaskRunner(url, context)


class DaskRunner(RemoteRunner):
    """Node calls as tasks on a Dask cluster."""

    def __init__(self, url: str, context: BackendContext) -> None:
        import dask
        from distributed import Client, LocalCluster

        super().__init__(context.installed_tools, context.max_workers)
        self.url = url
        self.context = context
        parts = urlsplit(url)
        host = parts.netloc
        if not host:
            raise RegistryError(
                f"backend URL {url!r} names no scheduler: use dask://HOST:8786 or "
                "dask://local?workers=N"
            )
        self.cluster: Any = None
        if host == "local":
            options = url_options(url, {"workers": int})
            workers = options.get("workers", 2)
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
            self.client = Client(self.cluster)
            # this engine's own cluster: its workers answer without batching either
            self.client.run(_answer_promptly)
        else:
            url_options(url, {})
            address = host if "://" in host else f"tcp://{host}"
            try:
                self.client = Client(address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise RegistryError(
                    f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                    "`dask scheduler` and workers with `dask worker " + address + "`"
                ) from None
        # a node call is one small task waited for at once: send it now rather than batch it
        # with others for up to 10 ms (the client's default; about 4 ms of each call here)
        comm = getattr(self.client, "scheduler_comm", None)
        if comm is not None and isinstance(getattr(comm, "interval", None), float):
            comm.interval = min(comm.interval, SEND_INTERVAL)

    # -- the NodeRunner protocol (the rest is RemoteRunner's) ---------------------------------

    def send(self, remote: RemoteCall, payload: bytes, call: NodeCall) -> Future[Outcome]:
        """Submit the call as a Dask task; the future completes with its outcome."""
        done: Future[Outcome] = Future()
        done.set_running_or_notify_cancel()
        start = perf_counter()
        key = f"wfengine-{call.node.name}-{call.run_id[:8]}-{call.step}-{call.attempt}-{next(_ids)}"
        task = self.client.submit(
            run_call,
            payload,
            self.context.load_tools,
            key=key,
            pure=False,
            retries=0,
            resources=remote.resources or None,
        )
        settled = threading.Lock()

        def settle(outcome: Outcome) -> None:
            with settled:
                if not done.done():
                    done.set_result(outcome)

        def finished(task: Any) -> None:
            settle(self._outcome(task, call, start))

        task.add_done_callback(finished)
        if call.timeout is not None:

            def too_late() -> None:
                if done.done():
                    return
                settle(  # first: cancelling completes the task, which settles too
                    Outcome(
                        None,
                        NodeTimeoutError(
                            f"node '{call.node.name}' did not finish within {call.timeout} s; "
                            "its Dask task was abandoned (Dask cannot stop a running task)"
                        ),
                        perf_counter() - start,
                        "dask",
                    )
                )
                task.cancel()

            timer = threading.Timer(call.timeout, too_late)
            timer.daemon = True
            timer.start()
            done.add_done_callback(lambda _f: timer.cancel())
        return done

    def close(self) -> None:
        """Close the client (and the local cluster this runner started)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        super().close()

    # -- outcomes ----------------------------------------------------------------------------

    @staticmethod
    def _outcome(task: Any, call: NodeCall, start: float) -> Outcome:
        from distributed.scheduler import KilledWorker

        took = perf_counter() - start
        if task.status == "finished":
            outcome: RemoteOutcome = pickle.loads(task.result())
            return finish(outcome, call)
        if task.status == "cancelled":
            return Outcome(
                None,
                WorkerLostError(f"the Dask task of node '{call.node.name}' was cancelled"),
                took,
                "dask",
            )
        error = task.exception()
        if isinstance(error, KilledWorker):
            return Outcome(
                None,
                WorkerLostError(
                    f"the Dask worker running node '{call.node.name}' (attempt "
                    f"{call.attempt}) died: {error}"
                ),
                took,
                "dask",
            )
        return Outcome(None, RemoteNodeError(type(error).__name__, str(error)), took, "dask")

    def worker_addresses(self) -> list[str]:
        """The addresses of the cluster's workers now."""
        return list(self.client.scheduler_info()["workers"])
