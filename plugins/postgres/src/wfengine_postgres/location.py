"""Parsing ``postgresql:`` store URLs: the libpq connection string, the store's own options,
and the URL with its password masked (for messages).

URL forms (libpq's, https://www.postgresql.org/docs/current/libpq-connect.html)::

    postgresql://user:password@host:5432/dbname
    postgresql://user@host/dbname?sslmode=require
    postgres://...                               (the same)
    postgresql:///dbname                         (the local socket)

The store's own options go in the query string and are taken out before the rest reaches
libpq: ``pool_min`` (connections kept open, default 1), ``pool_max`` (at most, default 10),
``timeout`` (seconds to wait for a connection, and to reconnect after the server went away,
default 30). Any other option (``sslmode``, ``connect_timeout``, ``application_name``, ...) is
libpq's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from .errors import StoreURLError

SCHEMES = ("postgresql", "postgres")
OPTIONS = ("pool_min", "pool_max", "timeout")
DEFAULT_POOL_MIN = 1
DEFAULT_POOL_MAX = 10
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Location:
    """A parsed store URL."""

    url: str
    conninfo: str
    """What libpq gets: the URL without the store's options."""
    pool_min: int = DEFAULT_POOL_MIN
    pool_max: int = DEFAULT_POOL_MAX
    timeout: float = DEFAULT_TIMEOUT

    @property
    def masked(self) -> str:
        """The URL with its password replaced by ``***`` (for messages and logs)."""
        return mask_password(self.url)


def mask_password(url: str) -> str:
    """``url`` with the password of its user info (and a ``password=`` option) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def parse_url(url: str) -> Location:
    """Parse ``postgresql://user@host/db?pool_max=10``; errors say what is wrong."""
    scheme = url.partition(":")[0].lower()
    if scheme not in SCHEMES or not url[len(scheme) :].startswith("://"):
        raise StoreURLError(
            f"not a PostgreSQL store URL: {mask_password(url)!r}; "
            "expected postgresql://user@host:5432/dbname"
        )
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    ours = {key: value for key, value in pairs if key in OPTIONS}
    # the rest goes to libpq exactly as written (re-encoding would turn %20 into +)
    rest = [p for p in parts.query.split("&") if p and unquote(p.split("=")[0]) not in OPTIONS]
    where = f"store URL {mask_password(url)!r}"

    def count(name: str, default: int) -> int:
        raw = ours.get(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            raise StoreURLError(f"{where}: {name} must be a whole number >= 0, got {raw!r}")
        return value

    pool_min = count("pool_min", DEFAULT_POOL_MIN)
    pool_max = count("pool_max", max(DEFAULT_POOL_MAX, pool_min))
    if pool_max < 1 or pool_max < pool_min:
        raise StoreURLError(
            f"{where}: pool_max must be at least 1 and at least pool_min ({pool_min}), "
            f"got {pool_max}"
        )
    raw_timeout = ours.get("timeout", str(DEFAULT_TIMEOUT))
    try:
        timeout = float(raw_timeout)
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise StoreURLError(
            f"{where}: timeout must be a number of seconds > 0, got {raw_timeout!r}"
        )
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query="&".join(rest)))
    return Location(url, conninfo, pool_min, pool_max, timeout)
