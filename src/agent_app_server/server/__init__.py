"""The server: connections, handshake, subscriptions and method dispatch.

Layer: the top; imports every package below it. Its names load on first use (PEP 562), so that
the stdio fast start can import ``server.handshake`` without the rest of the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import AppServer
    from .connection import Connection

_EXPORTS = {"AppServer": "app", "Connection": "connection"}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["AppServer", "Connection"]
