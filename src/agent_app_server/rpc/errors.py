"""JSON-RPC error types: the one place a failure becomes a wire error object.

Owns: error codes and the exception tree handlers raise. Imports nothing from this project.
Handlers raise these; :mod:`agent_app_server.rpc.peer` alone turns them into ``{"code", "message"}``.
Layer: rpc (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_OVERLOADED = -32001

OVERLOADED_MESSAGE = "Server overloaded; retry later."


class RpcError(Exception):
    """An error answered to the peer. ``data`` is sent only when not None."""

    code: int = INTERNAL_ERROR

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_wire(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(RpcError):
    code = PARSE_ERROR


class InvalidRequest(RpcError):
    code = INVALID_REQUEST


class MethodNotFound(RpcError):
    code = METHOD_NOT_FOUND


class InvalidParams(RpcError):
    code = INVALID_PARAMS


class InternalError(RpcError):
    code = INTERNAL_ERROR


class ServerOverloaded(RpcError):
    code = SERVER_OVERLOADED

    def __init__(self) -> None:
        super().__init__(OVERLOADED_MESSAGE)


class RemoteError(Exception):
    """The peer answered one of our requests with an error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


class ConnectionClosed(Exception):
    """The connection ended before the peer answered our request."""
