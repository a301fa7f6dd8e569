"""``WS /ws/runs/{run_id}``: a run's events, in order from its start, closing when it ends;
``WS /ws/runs``: every run's status changes (:mod:`.feed`), for the studio's runs page.

A run this server drives in the background is replayed from its buffer and then followed
live. Any other run (one a ``wf worker`` drives, on any machine; one run with ``wait: true``
or by another process; one whose buffer has been dropped) is followed through the store
(:mod:`.follow`): the events its worker publishes when the store is an event feed, else
``step_finished`` / ``run_started`` events a shared store poller sees (``"polled": true``),
and a ``run_finished`` (a summary read from the store, ``"summary": true``, when the feed
did not bring one) when it stops. One client may hold ``max_websockets_per_client``
sockets at once; one more gets an error message and close code 4429.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from .context import ServerContext, ws_context
from .errors import error_body
from .jsonsafe import json_text, utf8_safe
from .models import client_error
from .security import WS_PROTOCOL
from .watch import TooManySockets, client_identity

router = APIRouter()


@router.websocket("/ws/runs/{run_id}")
async def run_events(websocket: WebSocket, run_id: str) -> None:
    """Send the run's events as JSON messages, then close (code 1000)."""
    ctx = ws_context(websocket)
    await _serve(ctx, websocket, lambda: _send_events(ctx, websocket, run_id))


@router.websocket("/ws/runs")
async def all_runs(websocket: WebSocket) -> None:
    """Every run's status changes, for as long as the client listens: first
    ``{"type": "listening"}``, then one ``{"type": "run", ...}`` (a ``GET /runs`` entry) each
    time a run starts, resumes or stops, or ``{"type": "resync"}`` when the client fell too
    far behind (read the list again)."""
    ctx = ws_context(websocket)
    await _serve(ctx, websocket, lambda: _send_feed(ctx, websocket))


async def _serve(
    ctx: ServerContext, websocket: WebSocket, body: Callable[[], Awaitable[None]]
) -> None:
    """Accept the socket and run ``body()`` while the client's socket quota allows it."""
    await websocket.accept(subprotocol=offered_protocol(websocket))
    try:
        with ctx.sockets.hold(client_identity(websocket.headers, websocket.client)):
            await body()
    except TooManySockets:
        limit = ctx.limits.max_websockets_per_client
        await _send(
            websocket,
            error_body(
                "too_many_websockets",
                f"this client already has {limit} WebSockets open; close one first",
                {"limit": limit},
            ),
            False,
        )
        await websocket.close(code=4429, reason="too many WebSockets")
    except WebSocketDisconnect:
        pass


def offered_protocol(websocket: WebSocket) -> str | None:
    """``wfengine`` when the client offered it (a browser, its key in a ``bearer.``
    subprotocol): the answer must name one of the offered protocols, or the browser fails."""
    offered = websocket.headers.get("sec-websocket-protocol", "")
    names = [name.strip() for name in offered.split(",")]
    return WS_PROTOCOL if WS_PROTOCOL in names else None


async def _send_events(ctx: ServerContext, websocket: WebSocket, run_id: str) -> None:
    tracebacks = ctx.expose_tracebacks
    channel = ctx.runs.channel(run_id)
    if channel is not None:
        async for event in channel.follow():
            await _send(websocket, event, tracebacks)
    elif not await _follow_elsewhere(ctx, websocket, run_id):
        await _send(
            websocket,
            error_body("RunNotFoundError", f"run '{run_id}' not found", {"run_id": run_id}),
            tracebacks,
        )
        await websocket.close(code=4404, reason="run not found")
        return
    await websocket.close(code=1000)


async def _send_feed(ctx: ServerContext, websocket: WebSocket) -> None:
    with ctx.feed.subscribe() as subscription:
        await _send(websocket, {"type": "listening"}, False)
        gone = asyncio.ensure_future(_disconnected(websocket))
        try:
            while True:
                message = asyncio.ensure_future(subscription.get())
                await asyncio.wait((message, gone), return_when=asyncio.FIRST_COMPLETED)
                if not message.done():
                    message.cancel()
                    return  # the client went away
                await _send(websocket, message.result(), False)
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await gone


async def _follow_elsewhere(ctx: ServerContext, websocket: WebSocket, run_id: str) -> bool:
    """Send the events of a run driven elsewhere until it stops (:mod:`.follow`); ``False``
    when there is no such run. Gives up when the client goes away."""
    sent = False

    async def pump() -> None:
        nonlocal sent
        async for event in ctx.watchers.follow(run_id):
            await _send(websocket, event, ctx.expose_tracebacks)
            sent = True

    pumping = asyncio.ensure_future(pump())
    gone = asyncio.ensure_future(_disconnected(websocket))
    try:
        await asyncio.wait((pumping, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, gone):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task
    if not pumping.done() or pumping.cancelled():
        raise WebSocketDisconnect(1000)
    pumping.result()
    return sent


async def _disconnected(websocket: WebSocket) -> None:
    """Return when the client disconnects (anything else it sends is ignored)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send(websocket: WebSocket, event: dict[str, Any], tracebacks: bool) -> None:
    """One event as a text message: errors without tracebacks unless the operator exposes
    them, lone surrogates as JSON escapes."""
    error = event.get("error")
    if not tracebacks and isinstance(error, dict) and "traceback" in error:
        event = {**event, "error": client_error(error)}
    await websocket.send_text(utf8_safe(json_text(event)))
