"""agent-app-server: a Python implementation of the Codex App Server protocol.

Layers, bottom up (each imports only those before it): protocol, transport, rpc, store, core, server.
"""

import importlib
import sys
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"

#: The reference protocol version we are wire-compatible with; reported in ``userAgent``.
PROTOCOL_VERSION = "0.169.0"


def lazy_exports(package: str, module_of: dict[str, str]) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` for ``package``: each public name (a key of ``module_of``) is
    imported from its module, relative to the package, on first use, then kept on the package.
    Packages on the start-up path use it so that importing one of their modules does not import
    all of them (``server.handshake`` answers ``initialize`` with the standard library alone)."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


__all__ = ["PROTOCOL_VERSION", "__version__", "lazy_exports"]
