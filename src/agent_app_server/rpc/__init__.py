"""JSON-RPC 2.0 peer, transport-independent: ids both ways, errors, backpressure.

Layer: rpc; may import ``protocol`` and ``transport`` (today only ``transport``: the peer serves a
``MessageStream``), never ``store``, ``core`` or ``server``. Knows no method names: a ``Dispatcher``
maps them.
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
