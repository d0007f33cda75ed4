"""One watched server: the observer connection, kept up for as long as the dashboard runs.

Owns: connecting with ``capabilities.observeAll`` and ``eventReplay`` (the client library
reconnects and replays what a drop lost; when it gives up, this starts over with its own
backoff and the server shows as unreachable meanwhile), the first ``thread/list``, polling
``server/diagnostics`` (clients, running turns; a server without the method, such as the
reference, shows what the dashboard saw itself), and the server's requests: approvals wait for
the page (or for another client, whose answer wins if it comes first); every other request is
left unanswered, for the clients that can answer it, until the server withdraws it.

Layer: dashboard (imports ``client`` and ``rpc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from ..client import AsyncClient, Backoff, ClientError, ClientOptions, ConnectionLost, Event, RpcCallError
from ..rpc import RequestId
from ..rpc.errors import InvalidRequest
from .fleet import APPROVAL_METHODS, Fleet, Withdrawn

log = logging.getLogger(__name__)

#: Threads listed when a server is first reached (most recently updated first), and at each poll.
THREADS_LISTED = 500
_PAGE = 100


@dataclass(slots=True)
class _WatchOptions(ClientOptions):
    watch: ServerWatch | None = None


class _ObserverClient(AsyncClient):
    """The client library with hooks for the dashboard: notifications reach the fleet through
    ``ClientOptions.on_notification`` (wire order, each once — the library's reconnect replays a
    drop's gap without duplicates — and before the server request that follows them), and server
    requests reach the watch with their id (``serverRequest/resolved`` names the request by it)."""

    @property
    def _watch(self) -> ServerWatch:
        watch = cast(_WatchOptions, self.options).watch
        assert watch is not None
        return watch

    async def _answer_server_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        return await self._watch.answer(method, params, request_id)


def display_url(url: str) -> str:
    """The URL without credentials or query (what the page may show)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class ServerWatch:
    """Watches one server; :meth:`run` until cancelled."""

    def __init__(
        self,
        name: str,
        url: str,
        fleet: Fleet,
        *,
        token: str | None = None,
        poll_interval: float = 5.0,
        retry: Backoff | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.fleet = fleet
        self._token = token
        self.poll_interval = poll_interval
        self.retry = retry or Backoff(max_attempts=1_000_000, base_delay=0.5, max_delay=10.0)
        self.client: AsyncClient | None = None
        #: Requests left to other clients: request id → the future that ends when withdrawn.
        self._held: dict[RequestId, asyncio.Future[None]] = {}
        fleet.add_server(name, display_url(url))

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                client = await self._connect()
            except (ClientError, OSError) as exc:
                attempt += 1
                self.fleet.server_state(self.name, "unreachable", error=self._shown(exc))
                await asyncio.sleep(self.retry.delay(min(attempt, 30)))
                continue
            attempt = 0
            self.client = client
            try:
                await self._follow(client)
            except ConnectionLost as exc:
                self.fleet.server_state(self.name, "unreachable", error=self._shown(exc))
            finally:
                self.client = None
                self.fleet.server_gone(self.name)
                await client.aclose()
            await asyncio.sleep(random.uniform(0.2, 1.0))

    def _shown(self, error: BaseException) -> str:
        """An error as the page may show it: the URL's credentials and query left out."""
        text = str(error).replace(self.url, display_url(self.url))
        return text.replace(self._token, "…") if self._token else text

    def _notified(self, event: Event) -> None:
        if event.method == "serverRequest/resolved" and type(event.params) is dict:
            self.withdrawn(event.params.get("requestId"))
        self.fleet.apply(self.name, event.method, event.params)

    async def _connect(self) -> AsyncClient:
        self.fleet.server_state(self.name, "connecting")
        options = _WatchOptions(
            client_name="agent_app_server_dashboard",
            observe_all=True,
            watch=self,
            on_notification=self._notified,
            on_disconnect=lambda: self.fleet.server_state(self.name, "reconnecting"),
            on_reconnect=lambda _count: self.fleet.server_state(self.name, "connected"),
        )
        client = await _ObserverClient.connect(self.url, token=self._token, options=options, reconnect=True)
        response = client.initialize_response
        version = response.user_agent if response is not None else None
        self.fleet.server_state(self.name, "connected", version=version)
        return client

    async def _follow(self, client: AsyncClient) -> None:
        await self._list_threads(client, THREADS_LISTED)
        while True:
            await self._poll(client)
            # The most recently updated threads again: a server without observer connections
            # (the reference) announces no new thread to the dashboard, and one with them loses
            # nothing by it.
            await self._list_threads(client, _PAGE)
            await asyncio.sleep(self.poll_interval)

    async def _list_threads(self, client: AsyncClient, most: int) -> None:
        cursor: str | None = None
        listed = 0
        while listed < most:
            params: dict[str, Any] = {"limit": _PAGE, "sortKey": "updated_at"}
            if cursor:
                params["cursor"] = cursor
            page = await client.request("thread/list", params)
            for thread in page.get("data") or []:
                self.fleet.thread_seen(self.name, thread)
                listed += 1
            cursor = page.get("nextCursor")
            if not cursor:
                return

    async def _poll(self, client: AsyncClient) -> None:
        try:
            result = await client.request("server/diagnostics")
        except RpcCallError:
            self.fleet.diagnostics(self.name, None)
            return
        gauges = {str(g.get("name")): int(g.get("value", 0)) for g in result.get("gauges") or []}
        self.fleet.diagnostics(self.name, gauges)

    async def read_thread(self, thread_id: str) -> dict[str, Any]:
        """``thread/read`` with its turns (the thread page's history)."""
        client = self.client
        if client is None:
            raise ConnectionLost(f"{self.name} is not connected")
        result = await client.request("thread/read", {"threadId": thread_id, "includeTurns": True})
        thread: dict[str, Any] = result["thread"]
        return thread

    async def answer(self, method: str, params: Any, request_id: RequestId) -> Any:
        """A server request: an approval waits for the page; anything else is left to others."""
        if method in APPROVAL_METHODS and isinstance(params, dict):
            approval = self.fleet.ask(self.name, request_id, method, params)
            try:
                # Shielded: a dropped connection cancels this handler, not the approval, which
                # the server asks again after the reconnect.
                return await asyncio.shield(approval.answer)
            except Withdrawn as exc:
                raise InvalidRequest(str(exc)) from None
        held = self._held[request_id] = asyncio.get_running_loop().create_future()
        try:
            await held
        finally:
            self._held.pop(request_id, None)
        raise InvalidRequest(f"{method} was answered by another client; this dashboard does not answer it")

    def withdrawn(self, request_id: Any) -> None:
        held = self._held.get(request_id)
        if held is not None and not held.done():
            held.set_result(None)

    async def aclose(self) -> None:
        client = self.client
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
