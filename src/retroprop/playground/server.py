"""The local web app of ``retroprop playground``: a Starlette app, one session per
WebSocket.

It protects itself as Jupyter does: every HTTP request and WebSocket must carry the
random token (``?token=`` once, then the cookie set from it), a Host header naming
this server (``127.0.0.1:PORT`` or ``localhost:PORT``) and, when the browser sends
one, an Origin of the same server; anything else is refused with 403. Uploads are
limited to ``MAX_UPLOAD`` bytes and read by retroprop's own CSV loader.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import Mapping
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from retroprop import frontend
from retroprop.datasets import Dataset, load_csv
from retroprop.errors import ConfigError, RetropropError
from retroprop.i18n import _
from retroprop.playground.commands import apply, dumps
from retroprop.playground.session import (
    FRAMES_PER_SECOND,
    Session,
    Setup,
    training_time,
)

COOKIE = "retroprop_playground_token"
MAX_UPLOAD = 2 * 1024 * 1024  # bytes of CSV
MAX_UPLOADS = 16  # kept per server, oldest dropped
FRAME = 1 / FRAMES_PER_SECOND  # seconds from one snapshot to the next while playing


def static_dir() -> str:
    """The folder of the page's own files (HTML, JS, CSS)."""
    return str(resources.files("retroprop.playground") / "static")


class Guard:
    """ASGI middleware: the token, Host and Origin checks of every request."""

    def __init__(self, app: ASGIApp, token: str, port: int):
        self.app, self.token, self.port = app, token, port
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        self.origins = {f"http://{h}" for h in self.hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope)
        if why is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": why})
                return
            await PlainTextResponse(f"403 forbidden: {why}", status_code=403)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> str | None:
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        if headers.get("host") not in self.hosts:
            return _(
                "wrong Host header (the playground answers only 127.0.0.1 and localhost)"
            )
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return _("cross-origin request refused")
        if scope["type"] == "websocket" and origin is None:
            return _("a WebSocket needs the page's Origin")
        conn = HTTPConnection(scope)
        given = conn.query_params.get("token") or conn.cookies.get(COOKIE)
        if not given or not secrets.compare_digest(given, self.token):
            return _(
                "missing or wrong token: open the URL `retroprop playground` printed"
            )
        return None


def create_app(token: str, port: int) -> ASGIApp:
    """The playground app for a server on ``127.0.0.1:port`` with this ``token``."""
    uploads: dict[str, Dataset] = {}

    async def index(request: Request) -> Response:
        with open(os.path.join(static_dir(), "index.html"), encoding="utf-8") as f:
            page = localised(f.read())
        response = HTMLResponse(page, headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def upload(request: Request) -> Response:
        size = int(request.headers.get("content-length") or 0)
        if size > MAX_UPLOAD:
            return _too_large()
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_UPLOAD:
                return _too_large()
        target = request.query_params.get("target") or None
        name = os.path.basename(request.query_params.get("name") or "upload.csv")
        try:
            options = _read_options(request.query_params)
            ds = await asyncio.to_thread(_load_upload, body, name, target, options)
        except (RetropropError, OSError, UnicodeDecodeError) as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        key = secrets.token_urlsafe(8)
        uploads[key] = ds
        while len(uploads) > MAX_UPLOADS:
            uploads.pop(next(iter(uploads)))
        return JSONResponse(
            {
                "upload": key,
                "samples": int(ds.X.shape[0]),
                "features": list(ds.feature_names),
                "classes": list(ds.class_names),
            }
        )

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        query = dict(ws.query_params)
        query.pop("token", None)
        uploaded = uploads.get(query.pop("upload", ""))
        try:
            setup = Setup.from_query(query)
            session = Session(setup, uploaded)
        except RetropropError as e:
            await ws.send_text(dumps({"type": "error", "message": str(e)}))
            session = Session()
        await serve_session(ws, session, uploads)

    routes = [
        Route("/", index),
        Route("/upload", upload, methods=["POST"]),
        WebSocketRoute("/ws", socket),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
        Mount("/shared", StaticFiles(directory=frontend.folder()), name="shared"),
    ]
    return Guard(Starlette(routes=routes), token, port)


def localised(page: str) -> str:
    """``index.html`` in the language in use: ``<html lang>``, the title, and the
    page's words for ``main.js`` in ``<script id="rp-labels">``."""
    from html import escape

    from retroprop.i18n import language
    from retroprop.playground.labels import LABELS, page_data

    return (
        page.replace('<html lang="en">', f'<html lang="{language()}">')
        .replace(
            "<title>retroprop playground</title>",
            f"<title>{escape(_(LABELS['title']))}</title>",
        )
        .replace(
            "</head>",
            f'<script id="rp-labels" type="application/json">{page_data()}</script>\n'
            "</head>",
        )
    )


def _too_large() -> Response:
    return JSONResponse(
        {
            "error": _(
                "the CSV file is larger than {kib} KiB; use a smaller file"
            ).format(kib=MAX_UPLOAD // 1024)
        },
        status_code=413,
    )


UPLOAD_OPTIONS = ("features", "drop", "sep", "decimal", "encoding")
"""Query parameters of ``POST /upload`` passed to ``load_csv`` as ``train``'s options
of the same names (``--features``, ``--drop``, ``--sep``, ``--decimal``,
``--encoding``); ``drop_missing=1`` is ``--drop-missing``."""


def _read_options(query: Mapping[str, str]) -> dict[str, Any]:
    """``load_csv``'s keyword arguments from the upload's query, read as the command
    line reads them (columns comma-separated, by name or number from 1)."""
    out: dict[str, Any] = {}
    for key in UPLOAD_OPTIONS:
        value = (query.get(key) or "").strip()
        if not value:
            continue
        if key in ("features", "drop"):
            cols = [c.strip() for c in value.split(",")]
            if not all(cols):
                raise ConfigError(
                    f"{key}: expected column names or numbers separated by commas, "
                    f"got {value!r}"
                )
            out[key] = cols
        else:
            out[key] = value
    if query.get("drop_missing") in ("1", "true"):
        out["drop_missing"] = True
    return out


def _load_upload(
    body: bytes, name: str, target: str | None, options: dict[str, Any] | None = None
) -> Dataset:
    """The uploaded bytes through ``load_csv``: the messages of ``train --data``,
    with the columns and dialect chosen as ``train``'s options choose them."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name if name.endswith(".csv") else name + ".csv")
        with open(path, "wb") as f:
            f.write(body)
        ds = load_csv(path, target=target, **(options or {}))
    ds.name = name
    return ds


async def serve_session(
    ws: WebSocket, session: Session, uploads: dict[str, Dataset]
) -> None:
    """Commands in, snapshots out; ``play`` trains in a worker thread and sends one
    snapshot every ``FRAME`` seconds, training for what the snapshot leaves of a
    frame (``training_time``), or at the page's chosen speed."""
    lock = asyncio.Lock()
    playing = asyncio.Event()
    await ws.send_text(dumps(session.snapshot()))

    async def player() -> None:
        clock = asyncio.get_running_loop().time
        overhead = 0.0  # the last frame's snapshot and sending, in seconds
        while True:
            await playing.wait()
            start = clock()
            # as fast as possible: train for what the snapshot leaves of a frame;
            # at a chosen speed: that speed's updates of one frame
            seconds = FRAME if session.speed else training_time(overhead)
            async with lock:
                await asyncio.to_thread(session.play_frame, seconds)
                trained = clock()
                snap = await asyncio.to_thread(session.snapshot)
            if session.error:
                playing.clear()
            snap["playing"] = playing.is_set()
            await ws.send_text(dumps(snap))
            overhead = clock() - trained
            await asyncio.sleep(max(0.0, FRAME - (clock() - start)))

    task = asyncio.create_task(player())
    try:
        while True:
            msg: Any = await ws.receive_json()
            if not isinstance(msg, dict):
                continue
            cmd = msg.get("cmd")
            if cmd == "play":
                session.error = None
                playing.set()
                continue
            if cmd == "pause":
                playing.clear()
            if cmd == "setup" and isinstance(msg.get("setup"), dict):
                key = msg["setup"].pop("upload", None)
                if key:
                    if key not in uploads:
                        await ws.send_text(
                            dumps(
                                {"type": "error", "message": _("upload the CSV again")}
                            )
                        )
                        continue
                    session.uploaded = uploads[key]
            if cmd in ("setup", "reset"):
                playing.clear()
            async with lock:
                replies = await asyncio.to_thread(apply, session, msg)
            for r in replies:
                if r.get("type") == "state":
                    r["playing"] = playing.is_set()
                await ws.send_text(dumps(r))
    except WebSocketDisconnect:
        pass
    finally:
        task.cancel()
