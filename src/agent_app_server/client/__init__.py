"""A typed Python client for the Codex App Server protocol, async first (:class:`AsyncClient`) with
a thin synchronous wrapper (:class:`Client`).

Connect by spawning any app-server command over stdio (ours by default), by ``ws://`` /
``wss://`` / ``unix://`` URL, or in-process (``agent_app_server.embedded``). Every method the
server implements has a typed method; :meth:`AsyncClient.request` sends anything else. The
exception tree is drawn in :mod:`agent_app_server.client.errors`.

Layer: client (imports only ``protocol``, ``transport`` and ``rpc``). docs/clients.md walks
through building a client step by step.
"""

from .connect import DEFAULT_COMMAND, check_token_target
from .core import WITHDRAWN, AsyncClient, Backoff, ClientOptions, Subscription, ThreadHandle, TurnHandle, text_input
from .errors import (
    ClientError,
    ConnectError,
    ConnectionLost,
    InsecureTokenError,
    ResponseValidationError,
    RpcCallError,
    RpcServerOverloaded,
    TurnFailed,
)
from .events import Event
from .sync import Client, SyncTurn

__all__ = [
    "DEFAULT_COMMAND",
    "WITHDRAWN",
    "AsyncClient",
    "Backoff",
    "Client",
    "ClientError",
    "ClientOptions",
    "ConnectError",
    "ConnectionLost",
    "Event",
    "InsecureTokenError",
    "ResponseValidationError",
    "RpcCallError",
    "RpcServerOverloaded",
    "Subscription",
    "SyncTurn",
    "ThreadHandle",
    "TurnFailed",
    "TurnHandle",
    "check_token_target",
    "text_input",
]
