"""The server: connections, handshake, subscriptions and method dispatch.

Layer: the top; imports every package below it.
"""

from .app import AppServer
from .connection import Connection

__all__ = ["AppServer", "Connection"]
