"""agent-app-server: a Python implementation of the Codex App Server protocol.

Layers, bottom up (each imports only those before it): protocol, transport, rpc, store, core, server.
"""

__version__ = "0.1.0"

#: The reference protocol version we are wire-compatible with; reported in ``userAgent``.
PROTOCOL_VERSION = "0.169.0"

__all__ = ["PROTOCOL_VERSION", "__version__"]
