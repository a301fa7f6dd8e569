"""The exceptions the PostgreSQL store raises; all are :class:`wfengine.errors.StoreError`."""

from __future__ import annotations

from wfengine.errors import InvalidQueryError, StoreError, UnstorableValueError

__all__ = [
    "InvalidQueryError",
    "SchemaVersionError",
    "StoreURLError",
    "UnstorableValueError",
]


class SchemaVersionError(StoreError):
    """The database was written by a newer wfengine-postgres than this one."""


class StoreURLError(StoreError, ValueError):
    """A ``postgresql:`` store URL is malformed or has an unknown or bad option."""
