"""What a thread is before any turn machinery: who started it, what its turns run with, the
record of a new thread, and the wire forms of a thread and of the answer that opens a session.

Owns: ``ClientIdentity``, ``ThreadSettings`` and their defaults from the config, the sandbox policy
of a sandbox mode, a new thread's record, ``wire_thread`` (the wire ``Thread`` of a record) and
``session_result`` (what ``thread/start``, ``thread/resume`` and ``thread/fork`` answer). Both
wire forms are complete: the protocol models read and dump them unchanged (pinned by a test), so
a path that cannot afford pydantic may send them as they are.
Layer: core. Imports only the standard library, ``core.config``, ``core.ids``, ``core.paths`` and
``store.records``: the stdio fast start answers a first ``thread/start`` with it before asyncio,
pydantic and the store are loaded (``server.early_thread``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .. import PROTOCOL_VERSION
from ..store.records import ThreadRecord
from .config import Config
from .ids import uuid7
from .paths import resolve_client_path

#: clientInfo.name values of the reference's own clients, and the source they stand for.
_KNOWN_CLIENT_SOURCES = {
    "codex_vscode": "vscode",
    "vscode": "vscode",
    "codex-tui": "cli",
    "codex_cli_rs": "cli",
    "codex-cli": "cli",
    "codex_exec": "exec",
}

#: The reference's built-in permission profiles (``permissionProfile/list``), in its order, with
#: the sandbox mode each one selects.
PERMISSION_PROFILES: dict[str, str] = {
    ":read-only": "read-only",
    ":workspace": "workspace-write",
    ":danger-full-access": "danger-full-access",
}


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who created a thread, from the connection's ``clientInfo``."""

    name: str

    @property
    def source(self) -> str:
        return _KNOWN_CLIENT_SOURCES.get(self.name, "appServer")


@dataclass(slots=True)
class ThreadSettings:
    """What the next turn of a thread runs with; turn-level overrides persist here."""

    model: str
    model_provider: str
    cwd: str
    approval_policy: Any
    sandbox_policy: dict[str, Any]
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    approvals_reviewer: str = "user"
    personality: str | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    service_tier: str | None = None
    #: ``thread/start.dynamicTools`` (wire ``DynamicToolSpec`` dicts): tools the client runs itself.
    dynamic_tools: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any], fallback: ThreadSettings) -> ThreadSettings:
        merged = fallback.to_json()
        merged.update({k: v for k, v in data.items() if k in merged})
        return cls(**merged)


def sandbox_policy_for_mode(mode: str, config: Config, cwd: str) -> dict[str, Any]:
    """The wire ``SandboxPolicy`` for a ``SandboxMode`` (``read-only`` / ``workspace-write`` / …)."""
    if mode == "danger-full-access":
        return {"type": "dangerFullAccess"}
    if mode == "workspace-write":
        table = config.workspace_write
        roots = table.get("writable_roots") or []
        return {  # in the protocol model's field order, as wire_thread
            "type": "workspaceWrite",
            "excludeSlashTmp": bool(table.get("exclude_slash_tmp", False)),
            "excludeTmpdirEnvVar": bool(table.get("exclude_tmpdir_env_var", False)),
            "networkAccess": bool(table.get("network_access", False)),
            "writableRoots": [str(root) for root in roots if isinstance(root, str)],
        }
    return {"type": "readOnly", "networkAccess": False}


def default_settings(config: Config, cwd: str | None = None) -> ThreadSettings:
    """A new thread's settings from the config; ``cwd`` as a client sent it (relative paths are
    resolved against the server's working directory, as the reference does)."""
    resolved_cwd = resolve_client_path(cwd or "")
    return ThreadSettings(
        model=config.model,
        model_provider=config.model_provider_id,
        cwd=resolved_cwd,
        approval_policy=config.approval_policy,
        sandbox_policy=sandbox_policy_for_mode(config.sandbox_mode, config, resolved_cwd),
        reasoning_effort=config.reasoning_effort,
        reasoning_summary=config.reasoning_summary,
    )


def new_thread_record(client: ClientIdentity, settings: ThreadSettings) -> ThreadRecord:
    """The record of a thread created now (stored only at its first turn)."""
    now = int(time.time())
    return ThreadRecord(
        id=uuid7(),
        created_at=now,
        updated_at=now,
        cwd=settings.cwd,
        model_provider=settings.model_provider,
        source_kind=client.source,
        source=client.source,
        originator=client.name,
        model=settings.model,
        reasoning_effort=settings.reasoning_effort,
        cli_version=PROTOCOL_VERSION,
    )


#: The wire ``ThreadStatus`` of a loaded thread with no turn running.
IDLE: dict[str, Any] = {"type": "idle"}

#: ``section`` / ``sectionEnteredAt`` of a thread in no section.
NO_SECTION: dict[str, Any] = {"section": None, "sectionEnteredAt": None}


def wire_thread(
    record: ThreadRecord,
    *,
    status: dict[str, Any],
    settings: ThreadSettings | None,
    ephemeral: bool,
    section: dict[str, Any] = NO_SECTION,
    turns: list[Any] | None = None,
) -> dict[str, Any]:
    """The wire ``Thread`` of ``record``: ``settings`` of a loaded thread override the record's,
    ``section`` is ``section`` / ``sectionEnteredAt`` (:data:`NO_SECTION` by default)."""
    # In the protocol model's field order, so that its dump of this dict is the same bytes.
    return {
        "id": record.id,
        "sessionId": record.id,
        "preview": record.preview,
        "ephemeral": ephemeral,
        "modelProvider": settings.model_provider if settings else record.model_provider,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "status": status,
        "cwd": settings.cwd if settings else record.cwd,
        "cliVersion": record.cli_version,
        "source": record.source,
        "turns": turns or [],
        "projectId": None,
        "path": None,
        "name": record.name,
        "model": settings.model if settings else record.model,
        "reasoningEffort": settings.reasoning_effort if settings else record.reasoning_effort,
        "originator": record.originator,
        "threadSource": None,
        "forkedFromId": record.forked_from_id,
        "parentThreadId": None,
        "agentNickname": None,
        "agentRole": None,
        "gitInfo": record.extra.get("gitInfo"),
        "historyMode": "legacy",
        "recencyAt": record.updated_at,
        **section,
    }


def session_result(thread: Any, settings: ThreadSettings) -> dict[str, Any]:
    """What opening a session on a thread answers (``thread/start``, ``thread/resume``,
    ``thread/fork``), in wire form; ``thread`` is the wire ``Thread`` (a dict or its model)."""
    return {
        "thread": thread,
        "model": settings.model,
        "modelProvider": settings.model_provider,
        "serviceTier": settings.service_tier,
        "cwd": settings.cwd,
        "instructionSources": [],
        "approvalPolicy": settings.approval_policy,
        "approvalsReviewer": settings.approvals_reviewer,
        "sandbox": settings.sandbox_policy,
        "reasoningEffort": settings.reasoning_effort,
        "disabledPluginIds": [],
    }
