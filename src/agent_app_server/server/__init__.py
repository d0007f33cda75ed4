"""The server: connections, handshake, subscriptions and method dispatch.

Layer: the top; imports every package below it. Its names load on first use (PEP 562), so that
the stdio fast start can import ``server.handshake`` without the rest of the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from .app import AppServer
    from .connection import Connection

_EXPORTS = {"AppServer": "app", "Connection": "connection"}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = ["AppServer", "Connection"]
