"""JSON-RPC 2.0 peer, transport-independent: ids both ways, errors, backpressure.

Layer: imports only ``protocol`` and ``transport``. Knows no method names.
"""

from .errors import (
    ConnectionClosed,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RemoteError,
    RpcError,
    ServerOverloaded,
)
from .peer import Dispatcher, Peer, PeerLimits, Reply, RequestId

__all__ = [
    "ConnectionClosed",
    "Dispatcher",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "Peer",
    "PeerLimits",
    "RemoteError",
    "Reply",
    "RequestId",
    "RpcError",
    "ServerOverloaded",
]
