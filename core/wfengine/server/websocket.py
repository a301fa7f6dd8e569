"""``WS /ws/runs/{run_id}``: a run's events, in order from its start, closing when it ends.

A run this server drives in the background is replayed from its buffer and then followed
live. For any other run (one run with ``wait: true``, by another process, or whose buffer
has been dropped) the server waits until it stops and sends one ``run_finished`` event
marked ``"summary": true``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from ..errors import RunNotFoundError
from ..run import RunStatus, WorkflowRun, iso
from .context import ServerContext, ws_context
from .errors import error_body
from .jsonsafe import json_text, jsonable, utf8_safe
from .models import client_error

router = APIRouter()
POLL_SECONDS = 0.25


@router.websocket("/ws/runs/{run_id}")
async def run_events(websocket: WebSocket, run_id: str) -> None:
    """Send the run's events as JSON messages, then close (code 1000)."""
    ctx = ws_context(websocket)
    await websocket.accept()
    tracebacks = ctx.expose_tracebacks
    try:
        channel = ctx.runs.channel(run_id)
        if channel is not None:
            async for event in channel.follow():
                await _send(websocket, event, tracebacks)
        else:
            run = await _wait_until_stopped(ctx, websocket, run_id)
            if run is None:
                await _send(
                    websocket,
                    error_body("RunNotFoundError", f"run '{run_id}' not found", {"run_id": run_id}),
                    tracebacks,
                )
                await websocket.close(code=4404, reason="run not found")
                return
            await _send(websocket, _finished_event(run), tracebacks)
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        pass


async def _wait_until_stopped(
    ctx: ServerContext, websocket: WebSocket, run_id: str
) -> WorkflowRun | None:
    """Poll the run until it stops; give up when the client goes away."""
    while True:
        try:
            run = await run_in_threadpool(ctx.engine.get_run, run_id)
        except RunNotFoundError:
            return None
        if run.status not in (RunStatus.RUNNING, RunStatus.PENDING):
            return run
        try:
            message = await asyncio.wait_for(websocket.receive(), timeout=POLL_SECONDS)
        except TimeoutError:
            continue
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))


async def _send(websocket: WebSocket, event: dict[str, Any], tracebacks: bool) -> None:
    """One event as a text message: errors without tracebacks unless the operator exposes
    them, lone surrogates as JSON escapes."""
    error = event.get("error")
    if not tracebacks and isinstance(error, dict) and "traceback" in error:
        event = {**event, "error": client_error(error)}
    await websocket.send_text(utf8_safe(json_text(event)))


def _finished_event(run: WorkflowRun) -> dict[str, Any]:
    return {
        "type": "run_finished",
        "run_id": run.run_id,
        "step": run.step,
        "node": None,
        "ts": iso(run.finished) if run.finished else None,
        "status": run.status.value,
        "error": jsonable(run.error),
        "summary": True,
    }
