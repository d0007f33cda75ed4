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

from ..client import AsyncClient, Backoff, ClientError, ClientOptions, ConnectionLost, RpcCallError
from ..rpc import RequestId
from ..rpc.errors import InvalidRequest
from .fleet import APPROVAL_METHODS, Fleet, Withdrawn

log = logging.getLogger(__name__)

#: How long a thread's notifications wait for the replay to fill a hole in their numbers.
GAP_WAIT_S = 2.0
#: Threads listed when a server is first reached (most recently updated first), and at each poll.
THREADS_LISTED = 500
_PAGE = 100


@dataclass(slots=True)
class _WatchOptions(ClientOptions):
    watch: ServerWatch | None = None


class _ObserverClient(AsyncClient):
    """The client library with hooks for the dashboard: notifications reach the fleet in wire
    order, before the server request that follows them; server requests reach the watch with
    their id (``serverRequest/resolved`` names the request by it); and a thread's notifications
    are delivered in ``seq`` order without holes.

    Why the last: after a reconnect an observer receives the live notifications of every thread
    from its ``initialize`` on, before its ``thread/resume {afterSeq}`` replays what the drop
    lost. Passed straight on, the live ones would move the library's replay mark past the hole
    and the replay would then be dropped as already seen. So from the drop until
    :data:`GAP_WAIT_S` after the reconnect, a notification that skips numbers is held until the
    replay fills the hole (a thread's numbers are consecutive), or until then at most (a replay
    the server could not give: the page shows what came). Only then: a few numbered
    notifications name no thread (``account/rateLimits/updated``), so the live stream has holes
    that no replay fills.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gaps: dict[str, dict[int, tuple[str, Any]]] = {}
        self._catching_up = False

    def _link_ended(self, link: Any) -> None:
        self._catching_up = True
        super()._link_ended(link)

    async def _handshake(self, link: Any, *, resume: bool) -> None:
        await super()._handshake(link, resume=resume)
        if resume:
            asyncio.get_running_loop().call_later(GAP_WAIT_S, self._caught_up)

    def _caught_up(self) -> None:
        if self._link is None:
            return  # dropped again: the next reconnect ends this catch-up
        self._catching_up = False
        for thread_id in list(self._gaps):
            self._give_up(thread_id)

    @property
    def _watch(self) -> ServerWatch:
        watch = cast(_WatchOptions, self.options).watch
        assert watch is not None
        return watch

    def _route(self, method: str, params: Any, seq: Any) -> None:
        thread_id = params.get("threadId") if type(params) is dict else None
        if type(seq) is not int or type(thread_id) is not str:
            self._deliver(method, params, seq)
            return
        last = self._last_seq.get(thread_id, 0)
        if seq <= last:
            return  # seen before the reconnect
        if last and seq > last + 1 and self._catching_up:
            held = self._gaps.setdefault(thread_id, {})
            if not held:
                asyncio.get_running_loop().call_later(GAP_WAIT_S, self._give_up, thread_id)
            held[seq] = (method, params)
            return
        self._deliver(method, params, seq)
        waiting = self._gaps.get(thread_id)
        while waiting:
            following = self._last_seq.get(thread_id, 0) + 1
            if following not in waiting:
                break
            self._deliver(*waiting.pop(following), following)
        if waiting == {}:
            del self._gaps[thread_id]

    def _give_up(self, thread_id: str) -> None:
        held = self._gaps.pop(thread_id, None) or {}
        for seq in sorted(held):
            if seq > self._last_seq.get(thread_id, 0):
                self._deliver(*held[seq], seq)

    def _deliver(self, method: str, params: Any, seq: Any) -> None:
        super()._route(method, params, seq)
        watch = self._watch
        if method == "serverRequest/resolved" and type(params) is dict:
            watch.withdrawn(params.get("requestId"))
        watch.fleet.apply(watch.name, method, params)

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

    async def _connect(self) -> AsyncClient:
        self.fleet.server_state(self.name, "connecting")
        options = _WatchOptions(
            client_name="agent_app_server_dashboard",
            observe_all=True,
            watch=self,
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
