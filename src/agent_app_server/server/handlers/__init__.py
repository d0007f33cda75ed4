"""Method handlers: one function per implemented client request, registered by wire name.

Owns: what each method does at the protocol level (replies, notification order) on top of the
core. A method without an entry here answers -32601. Layer: server.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..connection import Connection

HandlerFn = Callable[[Connection, Any], Awaitable[Any]]
HANDLERS: dict[str, HandlerFn] = {}

F = TypeVar("F", bound=HandlerFn)


def handler(method: str) -> Callable[[F], F]:
    def register(fn: F) -> F:
        HANDLERS[method] = fn
        return fn

    return register


#: Which module implements each method. Modules load on the first call of one of their methods,
#: so that answering ``initialize`` does not load the thread and turn machinery.
_MODULE_OF: dict[str, str] = {
    "initialize": "initialize",
    **dict.fromkeys(
        [
            "thread/start",
            "thread/read",
            "thread/list",
            "thread/loaded/list",
            "thread/name/set",
            "thread/archive",
            "thread/unarchive",
            "thread/delete",
            "thread/metadata/update",
            "thread/inject_items",
            "thread/unsubscribe",
        ],
        "threads",
    ),
    **dict.fromkeys(
        [
            "turn/start",
            "turn/steer",
            "turn/interrupt",
            "thread/resume",
            "thread/fork",
            "thread/revert",
            "thread/compact/start",
        ],
        "turns",
    ),
    **dict.fromkeys(["thread/turns/list", "thread/items/list", "thread/items/read"], "pages"),
    "thread/settings/update": "thread_settings",
    **dict.fromkeys([f"fuzzyFileSearch/session{verb}" for verb in ("Start", "Update", "Stop")], "fuzzy_sessions"),
    **dict.fromkeys(
        [f"thread/queue/{verb}" for verb in ("add", "list", "update", "delete", "reorder", "start")], "queue"
    ),
    **dict.fromkeys(
        [
            "thread/backgroundTerminals/list",
            "thread/backgroundTerminals/terminate",
            "thread/backgroundTerminals/clean",
        ],
        "terminals",
    ),
    **dict.fromkeys(
        [
            "threadSection/list",
            "threadSection/create",
            "threadSection/update",
            "threadSection/delete",
            "thread/section/move",
        ],
        "sections",
    ),
    **dict.fromkeys(
        ["thread/attachment/add", "thread/attachment/list", "thread/attachment/remove", "thread/attachmentOwner/list"],
        "attachments",
    ),
    **dict.fromkeys(
        [
            "fs/readFile",
            "fs/writeFile",
            "fs/createDirectory",
            "fs/getMetadata",
            "fs/readDirectory",
            "fs/remove",
            "fs/copy",
            "fs/watch",
            "fs/unwatch",
            "fuzzyFileSearch",
        ],
        "fs",
    ),
    **dict.fromkeys(
        [
            "command/exec",
            "command/exec/write",
            "command/exec/resize",
            "command/exec/terminate",
            "thread/shellCommand",
        ],
        "exec",
    ),
    **dict.fromkeys(
        ["account/read", "account/login/start", "account/login/cancel", "account/logout", "account/rateLimits/read"],
        "account",
    ),
    "model/list": "models",
    **dict.fromkeys(
        [
            "config/read",
            "config/value/write",
            "config/batchWrite",
            "configRequirements/read",
            "experimentalFeature/list",
            "experimentalFeature/enablement/set",
        ],
        "config",
    ),
    **dict.fromkeys(["skills/list", "skills/config/write", "hooks/list"], "skills"),
    **dict.fromkeys(
        ["mcpServerStatus/list", "mcpServer/tool/call", "mcpServer/resource/read", "config/mcpServer/reload"], "mcp"
    ),
    **dict.fromkeys(
        [
            "modelProvider/list",
            "modelProvider/config/write",
            "modelProvider/capabilities/read",
            "permissionProfile/list",
            "server/diagnostics",
            "mock/experimentalMethod",
        ],
        "server_info",
    ),
}


def get_handler(method: str) -> HandlerFn | None:
    handler_fn = HANDLERS.get(method)
    if handler_fn is None and method in _MODULE_OF:
        # Importing the module registers its handlers.
        importlib.import_module(f"{__name__}.{_MODULE_OF[method]}")
        handler_fn = HANDLERS.get(method)
    return handler_fn


def implemented_methods() -> list[str]:
    return sorted(_MODULE_OF)
