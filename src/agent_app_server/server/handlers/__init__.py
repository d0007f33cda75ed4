"""Method handlers: one function per implemented client request, registered by wire name.

Owns: what each method does at the protocol level (replies, notification order) on top of the
core. Which module implements a method is the registry's ``handlers`` column
(``protocol.registry.METHOD_TABLE``); a method without a handler answers -32601. Layer: server.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ...protocol import METHODS
from ..connection import Connection

HandlerFn = Callable[[Connection, Any], Awaitable[Any]]
HANDLERS: dict[str, HandlerFn] = {}

F = TypeVar("F", bound=HandlerFn)


def handler(method: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        HANDLERS[method] = fn
        return fn

    return register


def get_handler(method: str) -> HandlerFn | None:
    handler_fn = HANDLERS.get(method)
    if handler_fn is None:
        spec = METHODS.get(method)
        if spec is not None and spec.handlers is not None:
            # Importing the module registers its handlers; modules load on the first call of one
            # of their methods, so that answering ``initialize`` does not load the thread and
            # turn machinery.
            importlib.import_module(f"{__name__}.{spec.handlers}")
            handler_fn = HANDLERS.get(method)
    return handler_fn
