"""The bounds a server puts on what one request may ask for; each breach is a clear 4xx."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import SpecError, SpecLimitError
from ..retry import RetryPolicy
from ..spec import check_spec_size
from .errors import ApiError

MIB = 2**20


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Limits of one server; every one can be passed to ``create_app``/``serve`` by name."""

    max_body_bytes: int = 10 * MIB
    """Largest request body (413)."""
    max_state_bytes: int = 5 * MIB
    """Largest initial state or state patch, as JSON (413)."""
    max_nodes: int = 500
    """Most nodes in a graph spec (422)."""
    max_edges: int = 2_000
    """Most edges in a graph spec (422)."""
    max_steps: int = 10_000
    """Highest step limit a run may ask for, in the request or in its spec (422)."""
    max_active_runs: int = 64
    """Most background runs going on at once (429)."""
    run_threads: int = 32
    """Threads running ``wait: true`` runs; when all are busy, more requests wait."""
    max_events_per_run: int = 10_000
    """Events kept per run for its WebSocket; later ones are dropped, the last always kept."""
    finished_runs_kept: int = 256
    """Event buffers of finished runs kept for late WebSocket clients."""
    max_retry_attempts: int = 10
    """Highest ``retry.max_attempts`` a spec node may ask for (422)."""
    max_retry_seconds: int = 300
    """Longest a spec node's retries may wait in all, at their longest delays (422)."""
    max_websockets_per_client: int = 32
    """WebSockets one client (one API key; without keys, one address) may have open."""

    @classmethod
    def names(cls) -> frozenset[str]:
        """The names of all limits (what ``create_app(**limits)`` accepts)."""
        return frozenset(f.name for f in fields(cls))

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            least = 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(
                    f"server limit {f.name} must be an integer >= {least}, got {value!r}"
                )

    def check_spec(self, spec: Mapping[str, Any]) -> None:
        """Refuse a spec with too many nodes or edges, or too high a step limit."""
        try:
            check_spec_size(spec, max_nodes=self.max_nodes, max_edges=self.max_edges)
        except SpecLimitError as exc:
            raise ApiError(
                422,
                str(exc),
                type="limit_exceeded",
                details={"where": exc.where, "limit": exc.limit, "actual": exc.actual},
            ) from None
        self.check_max_steps(spec.get("max_steps"), "max_steps")
        nodes = spec.get("nodes")
        items = (
            nodes.items()
            if isinstance(nodes, Mapping)
            else enumerate(nodes)
            if isinstance(nodes, list)
            else ()
        )
        for name, node in items:
            if isinstance(node, Mapping) and node.get("retry") is not None:
                where = f"nodes.{name}.retry" if isinstance(nodes, Mapping) else f"nodes[{name}]"
                self.check_retry(node["retry"], where)

    def check_retry(self, retry: Any, where: str) -> None:
        """Refuse a retry policy with more attempts or longer waits than this server allows."""
        try:
            policy = RetryPolicy.coerce(retry)
        except SpecError:
            return  # the spec loader reports a malformed policy with its location
        if policy is None:
            return
        if policy.max_attempts > self.max_retry_attempts:
            raise ApiError(
                422,
                f"{where}: max_attempts is {policy.max_attempts}; this server allows at most "
                f"{self.max_retry_attempts}",
                type="limit_exceeded",
                details={"where": where, "limit": self.max_retry_attempts},
            )
        waited = policy.longest_wait()
        if waited > self.max_retry_seconds:
            raise ApiError(
                422,
                f"{where}: the retries could wait {waited:,.0f} s in all; this server allows at "
                f"most {self.max_retry_seconds} s (lower initial_delay, max_delay or "
                "max_attempts)",
                type="limit_exceeded",
                details={"where": where, "limit": self.max_retry_seconds},
            )

    def check_max_steps(self, max_steps: Any, where: str = "max_steps") -> None:
        """Refuse a step limit above :attr:`max_steps`."""
        if isinstance(max_steps, int) and max_steps > self.max_steps:
            raise ApiError(
                422,
                f"{where} is {max_steps}; this server allows at most "
                f"{self.max_steps} steps per run",
                type="limit_exceeded",
                details={"where": where, "limit": self.max_steps, "actual": max_steps},
            )

    def check_state(
        self, state: Mapping[str, Any], where: str, body_bytes: int | None = None
    ) -> None:
        """Refuse a state larger than :attr:`max_state_bytes` as JSON.

        ``body_bytes``: the size of the request body it came in, when known; a body within
        the limit cannot hold a state beyond it, so the state is not measured then.
        """
        if not state or (body_bytes is not None and body_bytes <= self.max_state_bytes):
            return
        text = json.dumps(state, ensure_ascii=False, separators=(",", ":"), default=repr)
        size = len(text.encode("utf-8", "backslashreplace"))  # a lone surrogate: its escape
        if size > self.max_state_bytes:
            raise ApiError(
                413,
                f"{where} is {size} bytes as JSON; this server accepts at most "
                f"{self.max_state_bytes}",
                type="limit_exceeded",
                details={"where": where, "limit": self.max_state_bytes, "actual": size},
            )
