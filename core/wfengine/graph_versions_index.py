"""Which graph versions the runs of a store used: for ``wf graphs versions NAME`` and
``wf graphs show NAME@HASH``. Built from the runs' ``graph_version`` and the store's
:class:`~wfengine.storage.VersionedStore` capability, so it works on every such store."""

from __future__ import annotations

from typing import Any

from .errors import StoreError, UnknownNameError
from .storage import Store, VersionedStore
from .versions import short


def versions_of(store: Store, name: str) -> list[dict[str, Any]]:
    """The versions of graph ``name`` (by graph id or version name) that runs used, newest
    use first: ``{version, label, kind, runs: [run ids, newest first], last_used}``."""
    if not isinstance(store, VersionedStore):
        raise StoreError(f"the store {getattr(store, 'url', store)} keeps no graph versions")
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page, cursor = store.list_runs(limit=500, cursor=cursor, logs=False)
        for run in page:
            version = run.graph_version
            if version is None:
                continue
            entry = found.get(version)
            if entry is None:
                stored = store.get_graph_version(version) or {}
                if run.graph_id != name and stored.get("name") != name:
                    continue
                entry = found[version] = {
                    "version": version,
                    "label": short(str(stored.get("name", run.graph_id)), version),
                    "kind": stored.get("kind"),
                    "runs": [],
                    "last_used": run.created_at,
                }
            entry["runs"].append(run.run_id)
        if cursor is None:
            break
    return list(found.values())


def find_version(store: Store, ref: str) -> dict[str, Any]:
    """The stored version ``NAME@HASH`` (``HASH``: the full hash or a prefix of it, as
    shown by ``wf graphs versions``); a clear error when none or several match."""
    name, _, prefix = ref.partition("@")
    if not prefix:
        raise UnknownNameError(f"{ref!r} is not NAME@HASH (see: wf graphs versions NAME)")
    matches = [v for v in versions_of(store, name) if v["version"].startswith(prefix.lower())]
    if not matches:
        raise UnknownNameError(
            f"no version {ref} of graph '{name}' used by a run (see: wf graphs versions {name})"
        )
    if len(matches) > 1:
        raise UnknownNameError(f"{ref} is ambiguous: give more of the hash")
    assert isinstance(store, VersionedStore)
    stored = store.get_graph_version(matches[0]["version"])
    return dict(stored or {}) | {"label": matches[0]["label"], "runs": matches[0]["runs"]}
