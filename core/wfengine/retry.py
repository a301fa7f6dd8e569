"""Retry policies: how often and how long to wait before a failed node runs again."""

from __future__ import annotations

import builtins
import math
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import SpecError

MAX_ATTEMPTS = 10_000
"""The most attempts any retry policy may ask for (servers allow far fewer)."""
MAX_DELAY = 86_400.0
"""The longest delay (and backoff factor) a policy may name: one day."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how a node that raised is run again.

    ``max_attempts`` counts the first attempt too (``max_attempts=3``: two retries). The delay
    before attempt ``n + 1`` is ``initial_delay * backoff_factor ** (n - 1)``, capped at
    ``max_delay``; with ``jitter`` a random fraction of up to that delay is used ("full jitter"),
    which spreads retries of many runs apart. Only exceptions that are instances of ``retry_on``
    are retried; anything else fails the node at once, and so does an exception whose
    ``retryable`` attribute is ``False`` (a tool's way to say "bad input: trying again
    cannot help").
    """

    max_attempts: int = 3
    initial_delay: float = 0.1
    backoff_factor: float = 2.0
    max_delay: float = 30.0
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = field(default=(Exception,))

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ValueError(f"retry max_attempts must be an integer >= 1, got {attempts!r}")
        if attempts > MAX_ATTEMPTS:
            raise ValueError(f"retry max_attempts must be at most {MAX_ATTEMPTS}, got {attempts}")
        for name in ("initial_delay", "backoff_factor", "max_delay"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"retry {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value > MAX_DELAY:
                raise ValueError(f"retry {name} must be finite and at most {MAX_DELAY:g}")
        if self.initial_delay < 0 or self.max_delay < 0 or self.backoff_factor < 1:
            raise ValueError("retry delays must be >= 0 and backoff_factor >= 1")

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """True when ``attempt`` (1-based) failed with ``error`` and another attempt is allowed."""
        return (
            attempt < self.max_attempts
            and isinstance(error, self.retry_on)
            and getattr(error, "retryable", True) is not False
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        base = self._longest_delay(attempt)
        return random.uniform(0, base) if self.jitter else base

    def _longest_delay(self, attempt: int) -> float:
        """The delay after ``attempt`` before jitter; never overflows (the backoff is capped
        at ``max_delay`` long before ``factor ** n`` leaves the float range)."""
        if self.initial_delay <= 0:
            return 0.0
        if self.backoff_factor > 1:
            # past this many doublings the delay is max_delay whatever the exponent
            cap = math.log(max(self.max_delay, self.initial_delay) / self.initial_delay)
            if attempt - 1 > cap / math.log(self.backoff_factor):
                return self.max_delay
        return min(self.max_delay, self.initial_delay * self.backoff_factor ** (attempt - 1))

    def longest_wait(self) -> float:
        """The most all retries can wait in sum (every delay at its longest, no jitter)."""
        return sum(self._longest_delay(n) for n in range(1, self.max_attempts))

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON data, exception types by name."""
        data = asdict(self)
        data["retry_on"] = [t.__name__ for t in self.retry_on]
        return data

    def changed_fields(self) -> dict[str, Any]:
        """Only the fields that differ from the defaults (as a spec writes the policy, so a
        loaded spec writes back as it was); at least ``max_attempts``."""
        full, defaults = self.to_dict(), RetryPolicy().to_dict()
        changed = {k: v for k, v in full.items() if v != defaults[k]}
        return changed or {"max_attempts": self.max_attempts}

    @classmethod
    def coerce(cls, value: RetryPolicy | int | Mapping[str, Any] | None) -> RetryPolicy | None:
        """Accept a policy, a number of attempts, or a mapping of fields (as in a spec).

        In a mapping, ``retry_on`` may name built-in exception types (``["TimeoutError"]``).
        """
        if value is None or isinstance(value, RetryPolicy):
            return value
        if isinstance(value, bool):
            raise SpecError(f"retry must be a number of attempts or a mapping, got {value!r}")
        if isinstance(value, int):
            return cls(max_attempts=value)
        if not isinstance(value, Mapping):
            raise SpecError(f"retry must be a number of attempts or a mapping, got {value!r}")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(value) - known)
        if unknown:
            raise SpecError(f"unknown retry field(s) {unknown}; expected some of {sorted(known)}")
        fields = dict(value)
        if "retry_on" in fields:
            fields["retry_on"] = tuple(_exception_type(t) for t in _as_list(fields["retry_on"]))
        try:
            return cls(**fields)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"invalid retry policy: {exc}") from None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _exception_type(value: Any) -> type[BaseException]:
    if isinstance(value, type) and issubclass(value, BaseException):
        return value
    found = getattr(builtins, str(value), None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    raise SpecError(f"retry_on: {value!r} is not a built-in exception type")
