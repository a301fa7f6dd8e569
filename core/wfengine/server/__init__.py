"""The REST API (optional extra ``wfengine[server]``): ``create_app`` and ``serve``.

::

    from wfengine import Engine
    from wfengine.server import create_app

    app = create_app(Engine(store="sqlite:///runs.db"), data_dir="data", api_keys=["s3cret"])
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "the wfengine REST server needs the server extra: pip install 'wfengine[server]'"
    ) from exc

from .app import create_app
from .errors import InsecureServerError, ServerConfigError
from .limits import ServerLimits
from .serve import serve

__all__ = ["InsecureServerError", "ServerConfigError", "ServerLimits", "create_app", "serve"]
