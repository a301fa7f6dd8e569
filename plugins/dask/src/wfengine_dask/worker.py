"""What runs on a Dask worker: one node call, from bytes to bytes.

Bytes in and out (not Dask's own serialisation of the call) so the driver refuses a value
that cannot travel before submitting, naming its key path, exactly as on ``processes://``.
The worker's installed tools are loaded once per worker process.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from typing import Any

from wfengine.remote import RemoteCall, execute, outcome_bytes

_tools: dict[int, Any] = {}
_tools_lock = threading.Lock()


def run_call(payload: bytes, load_tools: Callable[[], Any] | None) -> bytes:
    """Run the :class:`~wfengine.remote.RemoteCall` in ``payload``; the outcome's bytes."""
    remote: RemoteCall = pickle.loads(payload)

    def installed() -> Any:
        if load_tools is None:
            raise LookupError("this worker was given no way to load installed tools")
        with _tools_lock:  # one registry per worker process, built on first need
            if 0 not in _tools:
                _tools[0] = load_tools()
            return _tools[0]

    return outcome_bytes(execute(remote, installed), remote.node)
