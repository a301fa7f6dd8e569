"""The studio: a browser UI at ``/ui`` over the REST API (static files, no build step).

The page and its assets hold no data and are served without a key; everything they show
comes from the API, which the page calls with the key the user types (kept in the tab's
``sessionStorage``, sent as ``Authorization: Bearer``; no cookies). Every response under
``/ui`` carries a strict Content-Security-Policy (:data:`CSP`): scripts, styles and
connections only from this origin, no inline script, no frames, no plugins.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from ..errors import ApiError

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-src blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""``frame-src blob:``: a data-quality ``report.html`` is shown as a blob the page fetched
with the key (it carries its own CSP, with no scripts)."""
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}

router = APIRouter(include_in_schema=False)


@router.get("/ui")
def studio_root() -> Response:
    """``/ui`` → ``/ui/`` (relative asset URLs resolve under it)."""
    return RedirectResponse("/ui/", headers=HEADERS)


@router.get("/ui/")
def studio_page() -> Response:
    """The single page; its routes are URL fragments (``#/runs``, ``#/run/ID``, ...)."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/ui/config.json")
def studio_config(request: Request) -> Response:
    """What the page needs before its first API call: whether the API wants a key (so a
    page without one asks for it instead of making a request bound to fail), and whether the
    store keeps run history (so the page shows the step slider and fork only then)."""
    required = bool(getattr(request.app.state, "api_keys_required", False))
    store = request.app.state.wfengine.engine.store
    return JSONResponse(
        {"auth_required": required, "history": keeps_history(store)}, headers=HEADERS
    )


def keeps_history(store: object) -> bool:
    """Whether the store answers the durable-history endpoints (state at a step, diff,
    fork): the :class:`~wfengine.storage.HistoryStore` capability, switched on (a memory
    store keeps none when opened as ``memory://?history=off``)."""
    from ...storage import HistoryStore

    return isinstance(store, HistoryStore) and getattr(store, "keeps_history", True) is not False


@router.get("/ui/static/{name}")
def studio_asset(name: str) -> Response:
    """One asset from the package's ``static`` folder (flat: no sub-paths, no dot files)."""
    path = STATIC / name
    if name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise ApiError(404, f"no studio asset {name!r}", type="not_found")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=HEADERS)
