"""The dashboard's web application (aiohttp): the page, its live stream, and approval decisions.

Owns: the routes (the page and its static files, ``/api/stream`` Server-Sent Events, the
approval POST, the thread history, the audit log, login), the security rules and the
:class:`Dashboard` that runs watches, audit log and listener together.

Security (docs/dashboard.md): the listener binds loopback by default, and then only accepts
requests whose ``Host`` names it (a page on another site cannot reach it through DNS
rebinding). Any other address needs ``auth_token`` (a login page sets a session cookie, or
``Authorization: Bearer``). Every POST must come from the page's own origin (``Origin``, else
``Referer``) and carry the session's CSRF token (an HMAC of the session id), except a bearer
request, which a browser never sends by itself. The servers' tokens never reach the page.

Layer: dashboard (imports ``client`` through :mod:`.watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from ..client import ClientError
from .audit import AuditLog
from .fleet import DECISIONS, Fleet, RowKind
from .watch import ServerWatch

SESSION_COOKIE = "dashboard_session"
CSRF_HEADER = "X-CSRF-Token"
#: Chart series are recomputed for a page at most this often (they change with every token count).
CHARTS_EVERY_S = 1.0
#: A comment line keeps idle streams open through proxies and finds closed pages.
KEEPALIVE_S = 15.0
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
_ROW_KINDS: tuple[RowKind, ...] = ("servers", "threads", "approvals")
_STATIC_FILES = ("index.html", "login.html", "app.js", "charts.js", "app.css")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ServerSpec:
    """One ``--server NAME=URL`` (with its token, from ``--token-env``)."""

    name: str
    url: str
    token: str | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class _Session:
    authenticated: bool
    created: float = field(default_factory=time.time)


class _Security:
    def __init__(self, auth_token: str | None, loopback: bool) -> None:
        self.auth_token = auth_token
        self.loopback = loopback
        self.port = 0
        self._secret = secrets.token_bytes(32)
        self._sessions: dict[str, _Session] = {}

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self._secret, session_id.encode(), hashlib.sha256).hexdigest()

    def new_session(self, *, authenticated: bool) -> str:
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = _Session(authenticated)
        return session_id

    def session(self, request: web.Request) -> str | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        return session_id if session_id is not None and session_id in self._sessions else None

    def bearer(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.auth_token is None or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.auth_token.encode())

    def check_token(self, offered: str) -> bool:
        return self.auth_token is not None and hmac.compare_digest(offered.encode(), self.auth_token.encode())

    def authenticated(self, request: web.Request) -> bool:
        if self.auth_token is None or self.bearer(request):
            return True
        session_id = self.session(request)
        return session_id is not None and self._sessions[session_id].authenticated

    def host_allowed(self, request: web.Request) -> bool:
        if not self.loopback:
            return True  # reached by any name; the login stands guard
        host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        return is_loopback(host)

    def same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        expected = f"{request.scheme}://{request.host}"
        if origin is not None:
            return origin == expected
        referer = request.headers.get("Referer")
        if referer is not None:
            return referer == expected or referer.startswith(expected + "/")
        # Neither header: not a browser's form or fetch (which always send one of them on a
        # cross-site POST); allowed only with the bearer token.
        return self.bearer(request)

    def csrf_ok(self, request: web.Request, offered: str | None) -> bool:
        if self.bearer(request):
            return True
        session_id = self.session(request)
        if session_id is None or offered is None:
            return False
        return hmac.compare_digest(offered.encode(), self.csrf_token(session_id).encode())


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _PageStream:
    """One open page's share of the fleet's changes (a :class:`~.fleet.FleetListener`)."""

    def __init__(self, thread_key: str | None) -> None:
        self.thread_key = thread_key
        self.dirty: dict[RowKind, set[str]] = {"servers": set(), "threads": set(), "approvals": set(), "charts": set()}
        self.ops: list[dict[str, Any]] = []
        self.wake = asyncio.Event()

    def changed(self, kind: RowKind, key: str) -> None:
        self.dirty[kind].add(key)
        self.wake.set()

    def transcript(self, thread_key: str, op: dict[str, Any]) -> None:
        if thread_key == self.thread_key:
            self.ops.append(op)
            self.wake.set()


class Dashboard:
    """The watches, the audit log and the web listener, started and stopped together."""

    def __init__(
        self,
        servers: list[ServerSpec],
        *,
        audit_path: Path,
        host: str = "127.0.0.1",
        port: int = 8765,
        auth_token: str | None = None,
        poll_interval: float = 5.0,
    ) -> None:
        if not is_loopback(host) and auth_token is None:
            raise ValueError(
                f"--listen {host}: a non-loopback address needs --auth-token-file "
                "(anyone who can reach it could answer approvals)"
            )
        self.host = host
        self.port = port
        self.fleet = Fleet()
        self.audit = AuditLog(audit_path)
        self.watches = {
            spec.name: ServerWatch(spec.name, spec.url, self.fleet, token=spec.token, poll_interval=poll_interval)
            for spec in servers
        }
        self.security = _Security(auth_token, is_loopback(host))
        self._static: dict[str, bytes] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Task[Any]] = set()
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Open the audit log, start following every server, listen; returns the page's URL."""
        loop = asyncio.get_running_loop()
        self._static = await loop.run_in_executor(None, _load_static)
        await self.audit.open()
        self.fleet.on_decided = self.audit.record
        for watch in self.watches.values():
            self._tasks.append(loop.create_task(watch.run(), name=f"dashboard-watch-{watch.name}"))
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.security.port = self.port
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        return self.url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for watch in self.watches.values():
            await watch.aclose()
        for stream in list(self._streams):
            stream.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.audit.close()

    # ------------------------------------------------------------------ the application

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_get("/static/{name}", self._static_file)
        app.router.add_get("/api/snapshot", self._snapshot)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_get("/api/thread", self._thread)
        app.router.add_get("/api/audit", self._audit)
        app.router.add_post("/api/approvals", self._decide)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        security = self.security
        if not security.host_allowed(request):
            return _refuse(421, f"this dashboard answers only to its loopback address, not to Host {request.host!r}")
        public = request.path in ("/login", "/static/app.css")
        if request.method not in ("GET", "HEAD"):
            if not security.same_origin(request):
                return _refuse(403, "cross-site request refused: the Origin is not this dashboard's")
            if request.path != "/login" and not security.csrf_ok(request, request.headers.get(CSRF_HEADER)):
                return _refuse(403, "cross-site request refused: missing or wrong CSRF token (reload the page)")
        if not public and not security.authenticated(request):
            if request.path.startswith("/api/"):
                return _refuse(401, "log in first (/login) or send Authorization: Bearer <token>")
            raise web.HTTPFound("/login")
        return await handler(request)

    def _page(self, name: str, request: web.Request) -> web.Response:
        session_id = self.security.session(request)
        fresh = session_id is None
        if session_id is None:
            session_id = self.security.new_session(authenticated=False)
        text = self._static[name].decode().replace("{{csrf}}", self.security.csrf_token(session_id))
        response = web.Response(text=text, content_type="text/html")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        if fresh:
            self._set_cookie(response, session_id)
        return response

    def _set_cookie(self, response: web.StreamResponse, session_id: str) -> None:
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="Strict", path="/")

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._page("index.html", request)

    async def _login_page(self, request: web.Request) -> web.StreamResponse:
        if self.security.auth_token is None:
            raise web.HTTPFound("/")
        return self._page("login.html", request)

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        offered = form.get("token")
        if not isinstance(offered, str) or not self.security.check_token(offered.strip()):
            return web.Response(status=403, text="wrong token: paste the content of --auth-token-file")
        response = web.HTTPFound("/")
        self._set_cookie(response, self.security.new_session(authenticated=True))
        raise response

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = self._static.get(name)
        if body is None or name.endswith(".html"):
            raise web.HTTPNotFound(text=f"no static file {name!r}")
        return web.Response(body=body, content_type=_STATIC_TYPES[Path(name).suffix], charset="utf-8")

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.fleet.snapshot())

    async def _transcript(self, key: str) -> dict[str, Any]:
        """The thread's transcript, read from its server first when it is not complete here."""
        server, _, thread_id = key.partition("/")
        watch = self.watches.get(server)
        if watch is None or not thread_id:
            raise web.HTTPNotFound(text=f"no thread {key!r}: expected SERVER/THREAD_ID of a watched server")
        transcript = self.fleet.transcript(key, create=False)
        if transcript is None or not transcript.complete:
            try:
                thread = await watch.read_thread(thread_id)
            except ClientError as exc:
                raise web.HTTPBadGateway(text=f"{server} could not read thread {thread_id}: {exc}") from None
            transcript = self.fleet.load_history(server, thread)
        return transcript.to_json()

    async def _thread(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await self._transcript(request.query.get("key", "")))

    async def _audit(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"decisions": await self.audit.recent()})

    async def _decide(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            # A cross-site form or no-cors fetch can only send "simple" bodies; JSON needs a
            # preflight this server never grants.
            return _refuse(415, "send the decision as application/json")
        try:
            body = await request.json()
        except ValueError:
            return _refuse(400, 'expected a JSON body: {"keys": [...], "decision": "accept" | "decline"}')
        keys = body.get("keys") if isinstance(body, dict) else None
        decision = body.get("decision") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys) or decision not in DECISIONS:
            return _refuse(400, 'expected {"keys": [approval keys], "decision": "accept" | "decline"}')
        results = {key: "answered" if self.fleet.decide(key, decision) else "already answered" for key in keys}
        return web.json_response({"results": results})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        thread = request.query.get("thread") or None
        transcript = await self._transcript(thread) if thread else None
        page = _PageStream(thread)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        self.fleet.listeners.add(page)
        try:
            first: dict[str, Any] = {"type": "snapshot", **self.fleet.snapshot(), "t": time.time()}
            if transcript is not None:
                first["transcript"] = {"key": thread, **transcript}
            await response.write(_event(first))
            await self._pump(page, response)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.fleet.listeners.discard(page)
            self._streams.discard(task)
        return response

    async def _pump(self, page: _PageStream, response: web.StreamResponse) -> None:
        """Everything that changed since the last write, in one event: a page that reads slowly
        gets fewer, larger updates, never a backlog."""
        charts_sent = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(page.wake.wait(), KEEPALIVE_S)
            if not page.wake.is_set():
                await response.write(b": keepalive\n\n")
                continue
            page.wake.clear()
            update: dict[str, Any] = {"type": "update", "t": time.time()}
            rows: dict[str, list[dict[str, Any]]] = {}
            for kind in _ROW_KINDS:
                keys = page.dirty[kind]
                if keys:
                    page.dirty[kind] = set()
                    rows[kind] = [self.fleet.row(kind, key) or {"key": key, "removed": True} for key in keys]
            if rows:
                update["rows"] = rows
            if page.dirty["charts"]:
                now = time.monotonic()
                if now - charts_sent >= CHARTS_EVERY_S:
                    page.dirty["charts"] = set()
                    update["charts"] = self.fleet.charts.to_json()
                    charts_sent = now
                else:
                    asyncio.get_running_loop().call_later(CHARTS_EVERY_S - (now - charts_sent), page.wake.set)
            if page.ops:
                update["ops"], page.ops = page.ops, []
            if len(update) > 2:
                await response.write(_event(update))


def _event(message: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(message, separators=(",", ":")).encode() + b"\n\n"


def _load_static() -> dict[str, bytes]:
    folder = resources.files(__package__) / "static"
    return {name: (folder / name).read_bytes() for name in _STATIC_FILES}
