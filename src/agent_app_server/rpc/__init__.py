"""JSON-RPC 2.0, transport-independent: a pure protocol state (``state``: frames in, events out,
ids both ways), the asyncio peer around it (``peer``: handlers, backpressure), and the errors.

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
from .peer import AnswerObserver, Dispatcher, Peer, PeerLimits, Reply
from .state import (
    Incoming,
    IncomingNotification,
    IncomingRequest,
    Refused,
    RequestId,
    RpcState,
)

__all__ = [
    "AnswerObserver",
    "ConnectionClosed",
    "Dispatcher",
    "Incoming",
    "IncomingNotification",
    "IncomingRequest",
    "InternalError",
    "InvalidParams",
    "InvalidRequest",
    "MethodNotFound",
    "ParseError",
    "Peer",
    "PeerLimits",
    "Refused",
    "RemoteError",
    "Reply",
    "RequestId",
    "RpcError",
    "RpcState",
    "ServerOverloaded",
]
