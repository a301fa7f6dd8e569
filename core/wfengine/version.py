"""The engine's version (one place; the package, the CLI and the server read it here)."""

from __future__ import annotations

__version__ = "0.1.0"
