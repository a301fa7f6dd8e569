"""``wf cache``: list and clear the cached node results in the store (``docs/caching.md``)."""

from __future__ import annotations

import time

import click

from ..storage import CacheStore
from .context import get_context
from .errors import UserError
from .options import debug_option, json_option, store_option
from .output import echo_json, format_seconds, format_table


def _cache_store() -> CacheStore:
    store = get_context().storage_engine().store
    if not isinstance(store, CacheStore):
        raise UserError(
            f"the store {type(store).__name__} keeps no cache (memory:// and sqlite:// do)"
        )
    return store


@click.group("cache")
def cache_group() -> None:
    """List and clear cached node results (nodes with cache: true; docs/caching.md).

    \b
    Examples:
      wf cache list --graph scoring
      wf cache clear
    """


@cache_group.command("list")
@click.option("--graph", "graph_id", metavar="ID", help="Only entries of this graph.")
@json_option
@store_option
@debug_option
def list_cache(graph_id: str | None, as_json: bool) -> None:
    """Cached node results, newest first: graph, node, age, what the key holds.

    \b
    Examples:
      wf cache list
      wf cache list --graph approval --json
    """
    entries = _cache_store().list_cache_entries(graph_id)
    if as_json:
        echo_json(entries)
        return
    if not entries:
        click.echo("no cached results")
        return
    now = time.time()
    rows = [
        (
            e["key"][:12],
            e["graph_id"],
            e["node"],
            format_seconds(now - e["created"]),
            "-" if e.get("ttl") is None else format_seconds(e["ttl"]),
            ", ".join(map(str, (e["parts"].get("reads") or {}))) or "-",
        )
        for e in entries
    ]
    click.echo(format_table(("KEY", "GRAPH", "NODE", "AGE", "TTL", "READS"), rows))


@cache_group.command("clear")
@click.option("--graph", "graph_id", metavar="ID", help="Only entries of this graph.")
@store_option
@debug_option
def clear_cache(graph_id: str | None) -> None:
    """Forget cached node results (all, or one graph's).

    \b
    Examples:
      wf cache clear
      wf cache clear --graph approval
    """
    count = _cache_store().clear_cache(graph_id)
    click.echo(f"cleared {count} cached result{'s' if count != 1 else ''}")
