"""The exceptions the SQLite store raises; all are :class:`wfengine.errors.StoreError`."""

from __future__ import annotations

from wfengine.errors import InvalidQueryError, StoreError, UnstorableValueError

__all__ = [
    "InvalidQueryError",
    "SchemaVersionError",
    "StoreURLError",
    "UnstorableValueError",
]


class SchemaVersionError(StoreError):
    """The database was written by a newer wfengine-sqlite than this one."""


class StoreURLError(StoreError, ValueError):
    """A ``sqlite:`` store URL is malformed or names an unusable location or option."""
