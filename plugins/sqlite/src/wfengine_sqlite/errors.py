"""The exceptions the SQLite store raises; all are :class:`wfengine.errors.StoreError`."""

from __future__ import annotations

from wfengine.errors import StoreError


class UnstorableValueError(StoreError, TypeError):
    """A value in the state (or a spec, or an error) has a type the store cannot keep faithfully.

    ``path`` says where (``state["rows"][3]["created"]``), ``value_type`` what was found.
    """

    def __init__(self, path: str, value_type: type, what: str = "") -> None:
        self.path = path
        self.value_type = value_type
        thing = f"{what} of {value_type!r}" if what else repr(value_type)
        super().__init__(
            f"{path}: cannot store {thing}; the SQLite store keeps JSON types (str, int, float, "
            "bool, None, list, dict) and datetime, date, time, timedelta, Decimal, UUID, bytes, "
            "bytearray, tuple, set, frozenset and pathlib paths. Convert the value (e.g. to a "
            "dict or str) before a node returns it."
        )


class SchemaVersionError(StoreError):
    """The database was written by a newer wfengine-sqlite than this one."""


class StoreURLError(StoreError, ValueError):
    """A ``sqlite:`` store URL is malformed or names an unusable location or option."""


class InvalidQueryError(StoreError, ValueError):
    """A bad argument to a query: a ``list_runs`` cursor this store did not issue, a limit
    below 1 (a ``ValueError`` too, so callers that check arguments catch it)."""
