"""Where a store lives: parsing ``sqlite:`` URLs, and the CLI's default database.

URL forms (the SQLAlchemy convention)::

    sqlite:///runs.db                  relative to the current directory
    sqlite:///data/runs.db             relative
    sqlite:////var/lib/wf/runs.db      absolute (four slashes)
    sqlite:///~/runs.db                under the home directory
    sqlite://:memory:                  a private in-memory database (also sqlite:///:memory:)

A path is percent-decoded (write ``%3F`` for a ``?`` in a file name).

Options go in the query string: ``?synchronous=full`` (default ``normal``: a committed step
survives a crash of the process, ``full`` also a power cut), ``?timeout=30`` (seconds to wait
for another writer before giving up).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote

from .errors import StoreURLError

MEMORY = ":memory:"
SYNCHRONOUS = ("off", "normal", "full", "extra")
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Location:
    """A parsed store URL: the database path (or ``:memory:``) and the connection options."""

    url: str
    path: str
    synchronous: str = "normal"
    timeout: float = DEFAULT_TIMEOUT

    @property
    def in_memory(self) -> bool:
        """True for ``sqlite://:memory:``."""
        return self.path == MEMORY


def parse_url(url: str) -> Location:
    """Parse ``sqlite:///path.db?synchronous=full``; errors say what is wrong and the forms."""
    scheme, sep, rest = url.partition(":")
    if scheme != "sqlite" or not sep:
        raise StoreURLError(f"not a sqlite store URL: {url!r}; expected sqlite:///path.db")
    rest, _, query = rest.partition("?")
    if rest in ("//" + MEMORY, "///" + MEMORY):
        path = MEMORY
    elif rest.startswith("///") and len(rest) > 3:
        path = os.path.expanduser(unquote(rest[3:]))
    else:
        raise StoreURLError(
            f"store URL {url!r} names no database file; use sqlite:///relative/path.db, "
            "sqlite:////absolute/path.db or sqlite://:memory:"
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - {"synchronous", "timeout"})
    if unknown:
        raise StoreURLError(
            f"store URL {url!r}: unknown option(s) {', '.join(unknown)}; "
            "known: synchronous, timeout"
        )
    synchronous = options.get("synchronous", "normal").lower()
    if synchronous not in SYNCHRONOUS:
        raise StoreURLError(
            f"store URL {url!r}: synchronous must be one of "
            f"{', '.join(SYNCHRONOUS)}, got {options['synchronous']!r}"
        )
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError:
        timeout = -1.0
    if not timeout >= 0:
        raise StoreURLError(
            f"store URL {url!r}: timeout must be a number of seconds >= 0, "
            f"got {options['timeout']!r}"
        )
    if path != MEMORY:
        parent = Path(path).parent
        if not parent.is_dir():
            raise StoreURLError(
                f"store URL {url!r}: directory {str(parent)!r} does not exist; create it first"
            )
    return Location(url, path, synchronous, timeout)


def default_path() -> Path:
    """The CLI's default database: ``wfengine.db`` in the per-user app directory."""
    import click

    return Path(click.get_app_dir("wfengine")) / "wfengine.db"


def default_url() -> str:
    """The URL of the CLI's default store (creating its directory): ``sqlite:////.../wfengine.db``.

    Users override it with ``wf --store URL`` or the ``WFENGINE_STORE`` environment variable.
    """
    path = default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + quote(path.resolve().as_posix(), safe="/:~")
