"""Pins the protocol package's public names and the wire names it registers.

The public names are each protocol module's ``__all__``; the generated ``protocol/_exports.py``
collects them (checked in, so a change shows in review). The wire names are pinned here: a change
is an API change for clients, make it deliberately.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import agent_app_server.protocol as protocol
from agent_app_server.protocol._exports import EXPORTS

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen_protocol_exports.py"

REGISTERED_METHODS = [
    "initialize",
    "thread/start",
    "thread/resume",
    "thread/fork",
    "thread/read",
    "thread/list",
    "thread/loaded/list",
    "thread/name/set",
    "thread/archive",
    "thread/unarchive",
    "thread/unsubscribe",
    "thread/revert",
    "thread/turns/list",
    "thread/items/list",
    "thread/compact/start",
    "turn/start",
    "turn/steer",
    "turn/interrupt",
]

REGISTERED_METHODS += [
    "account/read",
    "account/login/start",
    "account/login/cancel",
    "account/logout",
    "account/rateLimits/read",
    "model/list",
    "config/read",
    "config/value/write",
    "config/batchWrite",
    "configRequirements/read",
    "experimentalFeature/list",
    "skills/list",
    "skills/config/write",
    "hooks/list",
    "skills/extraRoots/set",
]

REGISTERED_METHODS += [
    "marketplace/add",
    "marketplace/remove",
    "marketplace/upgrade",
    "plugin/list",
    "plugin/installed",
    "plugin/read",
    "plugin/install",
    "plugin/uninstall",
]

REGISTERED_METHODS += [
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
]

REGISTERED_METHODS += [
    "command/exec",
    "command/exec/write",
    "command/exec/resize",
    "command/exec/terminate",
    "thread/shellCommand",
]

#: In registration order (``notifications``, then ``account``, ``skills``, ``attachments``, ``sections``,
#: ``thread_settings``, ``queue``, ``process``, ``goals``, ``external_agent`` and ``mcp_oauth``).
REGISTERED_NOTIFICATIONS = [
    "thread/started",
    "thread/status/changed",
    "thread/name/updated",
    "thread/archived",
    "thread/unarchived",
    "thread/deleted",
    "thread/closed",
    "thread/reverted",
    "thread/compacted",
    "thread/tokenUsage/updated",
    "thread/readState/changed",
    "turn/started",
    "turn/completed",
    "turn/diff/updated",
    "turn/plan/updated",
    "item/started",
    "item/completed",
    "item/agentMessage/delta",
    "item/reasoning/summaryPartAdded",
    "item/reasoning/summaryTextDelta",
    "item/reasoning/textDelta",
    "item/commandExecution/outputDelta",
    "item/fileChange/outputDelta",
    "item/commandExecution/terminalInteraction",
    "item/plan/delta",
    "serverRequest/resolved",
    "error",
    "warning",
    "configWarning",
    "deprecationNotice",
    "account/rateLimits/updated",
    "remoteControl/status/changed",
    "command/exec/outputDelta",
    "mcpServer/startupStatus/updated",
    "fs/changed",
    "fuzzyFileSearch/sessionUpdated",
    "fuzzyFileSearch/sessionCompleted",
    "account/login/completed",
    "account/updated",
    "skills/changed",
    "hook/started",
    "hook/completed",
    "thread/attachment/updated",
    "thread/section/changed",
    "thread/settings/updated",
    "thread/queue/changed",
    "process/outputDelta",
    "process/exited",
]

#: Methods whose params the reference types as null or nullable.
PARAMS_OPTIONAL_METHODS = {
    "account/logout",
    "account/rateLimits/read",
    "configRequirements/read",
    "config/mcpServer/reload",
    "account/usage/read",
    "externalAgentConfig/import/readHistories",
}

REGISTERED_METHODS += ["mcpServerStatus/list", "mcpServer/tool/call"]
REGISTERED_METHODS += [
    "thread/delete",
    "thread/metadata/update",
    "thread/inject_items",
    "thread/items/read",
    "threadSection/list",
    "threadSection/create",
    "threadSection/update",
    "threadSection/delete",
    "thread/section/move",
    "thread/attachment/add",
    "thread/attachment/list",
    "thread/attachment/remove",
    "thread/attachmentOwner/list",
    "collaborationMode/list",
    "turn/settings/update",
    "thread/settings/update",
    "thread/queue/add",
    "thread/queue/list",
    "thread/queue/update",
    "thread/queue/delete",
    "thread/queue/reorder",
    "thread/queue/start",
    "thread/backgroundTerminals/list",
    "thread/backgroundTerminals/terminate",
    "thread/backgroundTerminals/clean",
    "experimentalFeature/enablement/set",
    "mcpServer/resource/read",
    "config/mcpServer/reload",
    "fuzzyFileSearch/sessionStart",
    "fuzzyFileSearch/sessionUpdate",
    "fuzzyFileSearch/sessionStop",
    "modelProvider/list",
    "modelProvider/config/write",
    "modelProvider/capabilities/read",
    "permissionProfile/list",
    "server/diagnostics",
    "mock/experimentalMethod",
    "thread/search",
    "thread/searchOccurrences",
    "process/spawn",
    "process/writeStdin",
    "process/kill",
    "process/resizePty",
]
REGISTERED_METHODS += [
    "thread/goal/set",
    "thread/goal/get",
    "thread/goal/clear",
    "account/usage/read",
    "review/start",
    "externalAgentConfig/detect",
    "externalAgentConfig/import",
    "externalAgentConfig/import/recordHistory",
    "externalAgentConfig/import/readHistories",
    "mcpServer/oauth/login",
    "thread/approveGuardianDeniedAction",
]
REGISTERED_NOTIFICATIONS += ["thread/goal/updated", "thread/goal/cleared"]
REGISTERED_NOTIFICATIONS += ["externalAgentConfig/import/progress", "externalAgentConfig/import/completed"]
REGISTERED_NOTIFICATIONS += ["mcpServer/oauthLogin/completed"]

#: Methods only connections with ``capabilities.experimentalApi`` may call.
EXPERIMENTAL_METHODS = {
    "collaborationMode/list",
    "turn/settings/update",
    "thread/items/read",
    "thread/settings/update",
    "thread/queue/add",
    "thread/queue/list",
    "thread/queue/update",
    "thread/queue/delete",
    "thread/queue/reorder",
    "thread/queue/start",
    "thread/backgroundTerminals/list",
    "thread/backgroundTerminals/terminate",
    "thread/backgroundTerminals/clean",
    "fuzzyFileSearch/sessionStart",
    "fuzzyFileSearch/sessionUpdate",
    "fuzzyFileSearch/sessionStop",
    "server/diagnostics",
    "mock/experimentalMethod",
    "thread/search",
    "thread/searchOccurrences",
    "process/spawn",
    "process/writeStdin",
    "process/kill",
    "process/resizePty",
}

REGISTERED_SERVER_REQUESTS = [
    "item/commandExecution/requestApproval",
    "item/fileChange/requestApproval",
    "item/tool/call",
    "item/tool/requestUserInput",
    "account/chatgptAuthTokens/refresh",
]


def test_the_export_table_is_current() -> None:
    completed = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_all_is_the_union_of_the_modules_all() -> None:
    from_modules = [
        name for module in EXPORTS for name in importlib.import_module(f"{protocol.__name__}.{module}").__all__
    ]
    assert protocol.__all__ == from_modules
    assert len(set(protocol.__all__)) == len(protocol.__all__), "a name is public in two modules"


def test_every_exported_name_exists() -> None:
    missing = [name for name in protocol.__all__ if not hasattr(protocol, name)]
    assert missing == []


def test_every_registered_type_is_exported() -> None:
    specs = [*protocol.METHODS.values(), *protocol.NOTIFICATIONS.values(), *protocol.SERVER_REQUESTS.values()]
    types = {spec.params for spec in specs if spec.params is not None} | {
        getattr(spec, "result", spec.params) for spec in specs
    }
    assert {tp.__name__ for tp in types} <= set(protocol.__all__)
    assert all(getattr(protocol, tp.__name__) is tp for tp in types)


def test_registry_is_pinned() -> None:
    assert list(protocol.METHODS) == REGISTERED_METHODS
    assert list(protocol.NOTIFICATIONS) == REGISTERED_NOTIFICATIONS
    assert list(protocol.SERVER_REQUESTS) == REGISTERED_SERVER_REQUESTS
    assert {name for name, spec in protocol.METHODS.items() if spec.experimental} == EXPERIMENTAL_METHODS
    assert {name for name, spec in protocol.METHODS.items() if spec.params_optional} == PARAMS_OPTIONAL_METHODS


def test_registry_order_does_not_depend_on_what_was_imported_first() -> None:
    # A fresh interpreter that loads a late registering module before the registry is read (a
    # handler module does this): the order is still the pinned one.
    probe = (
        "import agent_app_server.protocol.queue, agent_app_server.protocol.attachments\n"
        "import agent_app_server.protocol as protocol\n"
        "print('\\n'.join(protocol.NOTIFICATIONS))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == REGISTERED_NOTIFICATIONS
