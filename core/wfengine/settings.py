"""Settings read from the environment, in one place."""

from __future__ import annotations

import os

DEFAULT_MAX_STEPS = 1000
DEFAULT_MAX_WORKERS = 32


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {raw!r}")
    return value


def max_steps() -> int:
    """The default step limit of a run: ``WFENGINE_MAX_STEPS``, else 1000."""
    return _positive_int("WFENGINE_MAX_STEPS", DEFAULT_MAX_STEPS)


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
