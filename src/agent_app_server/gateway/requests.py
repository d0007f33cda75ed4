"""What the gateway decides about: one approval request, read from the server's wire params.

Owns: which server requests are approvals (:data:`APPROVAL_METHODS`), their normalized view
(:class:`ApprovalRequest`: kind, command and its parsed argv, cwd, file paths and diff, network
access asked, the thread's client, source and model), the fingerprint that identifies the same
approval asked again after a reconnect or a restart (JSON-RPC ids change, the content does not),
and the answer each action makes for each kind of request.
Layer: gateway (the standard library only; the gateway's other modules build on it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
PERMISSIONS_APPROVAL = "item/permissions/requestApproval"
MCP_ELICITATION = "mcpServer/elicitation/request"

#: Server request method → the request kind policies name (``kind = [...]`` in a rule).
APPROVAL_METHODS: dict[str, str] = {
    COMMAND_APPROVAL: "command",
    FILE_CHANGE_APPROVAL: "fileChange",
    PERMISSIONS_APPROVAL: "permissions",
    MCP_ELICITATION: "mcpToolCall",
}
KINDS = tuple(APPROVAL_METHODS.values())
#: The actions that answer a request (``escalate`` and ``ask`` end in one of these, or in none).
ANSWERS = ("accept", "acceptForSession", "decline")

#: A shell wrapper the server puts around the model's command (``bash -lc 'script'``).
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
#: Shell syntax after which an argv prefix says nothing about what runs (``git status; rm -rf /``).
_SHELL_SYNTAX = re.compile(r"[;&|<>`$(){}\n*?\[\]~!#]")
#: Params that differ between two askings of the same approval (when it was asked).
_VOLATILE = frozenset({"startedAtMs"})


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """What the gateway knows of the thread a request belongs to (from ``thread/started`` or
    ``thread/read``)."""

    client: str | None = None  # the thread's originator: the client that started it
    source: str | None = None  # the session source (``vscode``, ``cli``, ``exec``, ``appServer``…)
    model: str | None = None
    workspace: str | None = None  # the thread's cwd

    @classmethod
    def from_thread(cls, thread: Any) -> ThreadInfo:
        if not isinstance(thread, dict):
            return cls()
        source = thread.get("source")
        return cls(
            client=_str(thread.get("originator")),
            source=source if isinstance(source, str) else (json.dumps(source) if source is not None else None),
            model=_str(thread.get("model")),
            workspace=_str(thread.get("cwd")),
        )


@dataclass(frozen=True)
class ApprovalRequest:
    """One approval request, as the policy sees it. What is derived from the params is computed
    once (a policy of many rules asks for the command again and again)."""

    method: str
    kind: str
    server: str
    params: dict[str, Any]
    thread: ThreadInfo = field(default_factory=ThreadInfo)
    #: The file changes of a ``fileChange`` item (from its ``item/started``): path → diff.
    changes: dict[str, str] = field(default_factory=dict)

    @property
    def thread_id(self) -> str:
        return str(self.params.get("threadId", ""))

    @property
    def turn_id(self) -> str | None:
        return _str(self.params.get("turnId"))

    @property
    def item_id(self) -> str | None:
        return _str(self.params.get("itemId"))

    @property
    def reason(self) -> str | None:
        return _str(self.params.get("reason"))

    @property
    def cwd(self) -> str | None:
        return _str(self.params.get("cwd")) or self.thread.workspace

    @property
    def workspace(self) -> str | None:
        return self.thread.workspace or _str(self.params.get("cwd"))

    @cached_property
    def command(self) -> str | None:
        """The command as it will run, a shell wrapper (``bash -lc 'script'``) taken off."""
        if self.kind != "command":
            return None
        raw = _str(self.params.get("command"))
        if raw is None:
            actions = self.params.get("commandActions") or []
            texts = [str(a["command"]) for a in actions if isinstance(a, dict) and isinstance(a.get("command"), str)]
            return " && ".join(texts) if texts else None
        return unwrap_shell(raw)

    @cached_property
    def argv(self) -> tuple[str, ...] | None:
        """The command's words when it is one simple command (no shell syntax), else None:
        an argv prefix must never match ``git status; rm -rf /``."""
        command = self.command
        if command is None or _SHELL_SYNTAX.search(command):
            return None
        try:
            return tuple(shlex.split(command))
        except ValueError:
            return None

    @cached_property
    def tool(self) -> str | None:
        """An MCP tool call's ``server/tool``."""
        if self.kind != "mcpToolCall":
            return None
        meta = self.params.get("_meta") or {}
        return f"{self.params.get('serverName')}/{meta.get('tool_name')}"

    @cached_property
    def paths(self) -> tuple[str, ...]:
        """Absolute paths the request touches: a file change's files, the paths a permissions
        request asks for; a command's cwd counts for the workspace matcher only."""
        if self.kind == "fileChange":
            found = list(self.changes)
            grant = _str(self.params.get("grantRoot"))
            if grant:
                found.append(grant)
            return tuple(self._absolute(p) for p in found)
        if self.kind == "permissions":
            file_system = (self.params.get("permissions") or {}).get("fileSystem") or {}
            found = [p for key in ("read", "write") for p in (file_system.get(key) or []) if isinstance(p, str)]
            for entry in file_system.get("entries") or []:
                path = entry.get("path") if isinstance(entry, dict) else None
                if isinstance(path, dict) and isinstance(path.get("path"), str):
                    found.append(path["path"])
                elif isinstance(path, dict) and isinstance(path.get("pattern"), str):
                    found.append(path["pattern"])
            return tuple(self._absolute(p) for p in found)
        return ()

    @property
    def diff(self) -> str | None:
        if not self.changes:
            return None
        return "\n".join(diff for diff in self.changes.values() if diff)

    @cached_property
    def network(self) -> bool:
        """Whether the request asks for network access."""
        if self.params.get("networkApprovalContext") or self.params.get("proposedNetworkPolicyAmendments"):
            return True
        network = (self.params.get("permissions") or {}).get("network") or {}
        return network.get("enabled") is True

    def _absolute(self, path: str) -> str:
        base = self.cwd or self.workspace or "/"
        return os.path.normpath(os.path.join(base, path))

    def inside_workspace(self) -> bool | None:
        """Whether everything the request touches (its paths, else its cwd) lies in the thread's
        workspace; None when the workspace is unknown."""
        workspace = self.workspace
        if workspace is None:
            return None
        touched = self.paths or ((self.cwd,) if self.cwd else ())
        root = os.path.normpath(workspace)
        return all(os.path.normpath(p) == root or os.path.normpath(p).startswith(root + os.sep) for p in touched)

    def fingerprint(self) -> str:
        """The same approval, however often and on whichever connection it is asked: server,
        thread, turn, item and content (never the JSON-RPC id, nor when it was asked)."""
        content = {key: value for key, value in self.params.items() if key not in _VOLATILE}
        text = json.dumps([self.server, self.method, content], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> str:
        """One line for logs and the audit: the command, the files, the tool or the permissions."""
        if self.kind == "command":
            return self.command or "(command not shown)"
        if self.kind == "fileChange":
            return ", ".join(self.paths) or "(files not shown)"
        if self.kind == "mcpToolCall":
            return self.tool or "(tool not shown)"
        return json.dumps(self.params.get("permissions"), sort_keys=True)

    def answer(self, action: str) -> dict[str, Any]:
        """The response that gives ``action`` (one of :data:`ANSWERS`) to this request."""
        if action not in ANSWERS:
            raise ValueError(f"{action!r} does not answer a request (expected one of {', '.join(ANSWERS)})")
        if self.kind in ("command", "fileChange"):
            return {"decision": action}
        if self.kind == "permissions":
            if action == "decline":
                return {"permissions": {}, "scope": "turn"}
            granted = self.params.get("permissions") or {}
            return {"permissions": granted, "scope": "session" if action == "acceptForSession" else "turn"}
        if action == "decline":
            return {"action": "decline", "content": None}
        answer: dict[str, Any] = {"action": "accept", "content": {}}
        if action == "acceptForSession":
            answer["_meta"] = {"persist": "session"}
        return answer


def approval_kind(method: str, params: Any) -> str | None:
    """The kind of an approval request, or None when the gateway does not decide it (an MCP
    elicitation that is a form for a person, not a tool call's approval)."""
    kind = APPROVAL_METHODS.get(method)
    if kind == "mcpToolCall":
        meta = params.get("_meta") if isinstance(params, dict) else None
        if not isinstance(meta, dict) or meta.get("codex_approval_kind") != "mcp_tool_call":
            return None
    return kind


def unwrap_shell(command: str) -> str:
    """``/bin/bash -lc 'echo hi'`` → ``echo hi``; anything else as it is."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 3 and os.path.basename(words[0]) in _SHELLS and words[1] in ("-c", "-lc", "-cl"):
        return words[2]
    return command


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
