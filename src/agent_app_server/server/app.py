"""The server process: shared state, thread subscriptions and notification fan-out.

Owns: the connections, which connection is subscribed to which thread, and delivering each
thread-scoped notification (serialized once) to every subscriber that has not opted out.
Layer: server.
"""

from __future__ import annotations

import logging
from typing import Any

from ..core.config import Config
from ..core.providers import ModelClients
from ..core.threads import ThreadManager
from ..core.turns import TurnEngine
from ..rpc import Peer, PeerLimits
from ..store import ThreadStore
from ..transport import MessageStream
from .connection import Connection, encode_notification

log = logging.getLogger(__name__)

STATE_DB_NAME = "state.sqlite3"


class AppServer:
    """Everything one server process shares between its connections."""

    def __init__(self, config: Config, store: ThreadStore) -> None:
        self.config = config
        self.store = store
        self.threads = ThreadManager(config, store, self)
        self.model_clients = ModelClients(config)
        window = config.values.get("model_context_window")
        self.turns = TurnEngine(
            self.threads,
            self,
            client_factory=lambda thread: self.model_clients.get(thread.settings.model_provider),
            context_window=window if isinstance(window, int) else None,
        )
        self.connections: dict[int, Connection] = {}
        self._subscribers: dict[str, dict[int, Connection]] = {}

    @classmethod
    async def open(cls, config: Config) -> AppServer:
        store = await ThreadStore.open(config.state_dir / STATE_DB_NAME)
        return cls(config, store)

    async def close(self) -> None:
        """Interrupt running turns (persisting them as interrupted), then close the store."""
        for thread_id in self.threads.loaded_ids():
            thread = self.threads.loaded(thread_id)
            if thread is not None and thread.active is not None:
                await self.turns.interrupt(thread.active)
        await self.store.close()

    # ------------------------------------------------------------------ connections

    async def serve(self, stream: MessageStream, limits: PeerLimits | None = None) -> None:
        """Serve one connection until its transport closes."""
        connection = Connection(self)
        peer = Peer(stream, connection, limits=limits)
        connection.peer = peer
        self.connections[connection.id] = connection
        try:
            await peer.serve()
        finally:
            self.connections.pop(connection.id, None)
            for subscribers in self._subscribers.values():
                subscribers.pop(connection.id, None)

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, connection: Connection, thread_id: str) -> None:
        self._subscribers.setdefault(thread_id, {})[connection.id] = connection

    def unsubscribe(self, connection: Connection, thread_id: str) -> bool:
        subscribers = self._subscribers.get(thread_id)
        if subscribers is None or connection.id not in subscribers:
            return False
        del subscribers[connection.id]
        return True

    def subscribers(self, thread_id: str) -> list[Connection]:
        return list(self._subscribers.get(thread_id, {}).values())

    def drop_subscriptions(self, thread_id: str) -> list[Connection]:
        return list(self._subscribers.pop(thread_id, {}).values())

    # ------------------------------------------------------------------ EventSink

    def emit(self, thread_id: str | None, method: str, params: Any) -> None:
        recipients = self.subscribers(thread_id) if thread_id is not None else list(self.connections.values())
        self.deliver(recipients, method, params)

    def deliver(self, recipients: list[Connection], method: str, params: Any) -> None:
        if not recipients:
            return
        encoded = encode_notification(method, params)
        for connection in recipients:
            connection.send_encoded(method, encoded)
