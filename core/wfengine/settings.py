"""Settings read from the environment, in one place."""

from __future__ import annotations

import os

DEFAULT_MAX_STEPS = 1000
DEFAULT_MAX_WORKERS = 32
MAX_STEPS_CEILING = 10**12
"""The highest step limit a run may be given (``--max-steps``, a spec's ``max_steps``,
``WFENGINE_MAX_STEPS``): far beyond any real run, and within what a store's integer holds."""


def _positive_int(name: str, default: int, most: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1 or (most is not None and value > most):
        bound = "" if most is None else f" of at most {most}"
        raise ValueError(f"{name} must be a positive integer{bound}, got {raw!r}")
    return value


def max_steps() -> int:
    """The default step limit of a run: ``WFENGINE_MAX_STEPS``, else 1000."""
    return _positive_int("WFENGINE_MAX_STEPS", DEFAULT_MAX_STEPS, MAX_STEPS_CEILING)


def max_workers() -> int:
    """The most threads one executor runs sync branches on: ``WFENGINE_MAX_WORKERS``, else 32."""
    return _positive_int("WFENGINE_MAX_WORKERS", DEFAULT_MAX_WORKERS)


def env_list(name: str) -> list[str] | None:
    """A comma-separated environment variable as a list; ``None`` when it is not set."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_flag(name: str) -> bool:
    """True when the variable is set to 1/true/yes/on."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
