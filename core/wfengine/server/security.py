"""API keys, the request body cap, and the loopback check: pure ASGI middlewares.

Keys come from ``api_keys=`` or ``WFENGINE_API_KEYS`` (comma-separated). When any is set,
every request but ``GET /health`` and the studio's static page (``/ui``) must carry one, as
``Authorization: Bearer KEY`` or ``X-API-Key: KEY``; keys are compared in constant time. A
browser cannot set headers on a WebSocket: it offers the subprotocols ``wfengine`` and
``bearer.<KEY in base64url>`` instead (:data:`WS_PROTOCOL`; never a query string, which lands
in access logs), and the server answers with ``wfengine``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import os
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_body

API_KEYS_ENV = "WFENGINE_API_KEYS"
PUBLIC_PATHS = frozenset({"/health", "/ui", "/ui/", "/ui/config.json"})
PUBLIC_PREFIXES = ("/ui/static/",)
WS_PROTOCOL = "wfengine"
"""The WebSocket subprotocol a browser offers, with ``bearer.<base64url key>``."""
_WS_BEARER = b"bearer."
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def websocket_key(value: bytes) -> bytes | None:
    """The key in a ``Sec-WebSocket-Protocol`` header, or ``None``."""
    for offered in value.split(b","):
        offered = offered.strip()
        if offered.startswith(_WS_BEARER):
            token = offered[len(_WS_BEARER) :]
            padded = token.translate(_URLSAFE) + b"=" * (-len(token) % 4)
            try:
                return base64.b64decode(padded, validate=True) or None
            except (ValueError, binascii.Error):
                return None
    return None


def resolve_api_keys(api_keys: Iterable[str] | str | None) -> list[str]:
    """The keys to require: ``api_keys`` when given, else ``WFENGINE_API_KEYS``; blanks dropped."""
    if api_keys is None:
        api_keys = os.environ.get(API_KEYS_ENV, "")
    if isinstance(api_keys, str):
        api_keys = api_keys.split(",")
    return [key.strip() for key in api_keys if key and key.strip()]


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host.strip().lower() in {"localhost", "localhost.", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ApiKeyMiddleware:
    """Refuses requests without a valid key (401 JSON; a WebSocket is closed with 4401)."""

    def __init__(self, app: ASGIApp, keys: Iterable[str]) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]

    def _authorised(self, scope: Scope) -> bool:
        given: list[bytes] = []
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given.append(token.strip())
            elif name == b"x-api-key":
                given.append(value.strip())
            elif name == b"sec-websocket-protocol" and scope["type"] == "websocket":
                key = websocket_key(value)
                if key is not None:
                    given.append(key)
        ok = False
        for token in given:
            for key in self.keys:  # no early exit: time does not depend on which key matched
                ok |= hmac.compare_digest(token, key)
        return ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if scope["type"] not in ("http", "websocket") or (public and scope["type"] == "http"):
            await self.app(scope, receive, send)
            return
        if self._authorised(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send(
                {"type": "websocket.close", "code": 4401, "reason": "an API key is required"}
            )
            return
        await _send_json(
            send,
            401,
            error_body(
                "unauthorized",
                "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            ),
            [(b"www-authenticate", b'Bearer realm="wfengine"')],
        )


class BodyTooLarge(ApiError):
    """The request body is larger than the server accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body is larger than the limit of {limit} bytes",
            type="content_too_large",
            details={"limit_bytes": limit},
        )


class BodyLimitMiddleware:
    """Caps request bodies at ``max_bytes``, counting bytes as they arrive (413 beyond).

    ``Content-Length`` is checked first, but not trusted: a chunked or lying request is cut
    off as soon as the bytes received pass the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _send_json(send, 413, _too_large(limit))
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:  # raised outside FastAPI's handlers (e.g. a raw body read)
            if not started:
                await _send_json(send, 413, _too_large(limit))


def _too_large(limit: int) -> dict[str, Any]:
    return error_body(
        "content_too_large",
        f"request body is larger than the limit of {limit} bytes",
        {"limit_bytes": limit},
    )
