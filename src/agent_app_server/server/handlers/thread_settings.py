"""``thread/settings/update`` (experimental): change what a thread's next turns run with, without
starting a turn; every subscriber hears ``thread/settings/updated``. ``turn/settings/update``
(experimental): change the model, effort or summary of the rest of one running turn.
Layer: server.
"""

from __future__ import annotations

from typing import Any

from ...core.thread_basics import PERMISSION_PROFILES, sandbox_policy_for_mode
from ...core.threads import LoadedThread
from ...protocol.thread_settings import (
    CollaborationModeListParams,
    CollaborationModeListResponse,
    CollaborationModeMask,
    ThreadSettingsUpdateParams,
    ThreadSettingsUpdateResponse,
    TurnSettingsUpdateParams,
    TurnSettingsUpdateResponse,
)
from ...rpc import InvalidParams, Reply
from ..connection import Connection
from . import handler
from .turns import _apply_overrides

#: The permission profile each sandbox policy type corresponds to.
_PROFILE_OF_POLICY = {
    "readOnly": ":read-only",
    "workspaceWrite": ":workspace",
    "dangerFullAccess": ":danger-full-access",
}
LOCAL_ENVIRONMENT = "local"


@handler("thread/settings/update")
async def thread_settings_update(conn: Connection, params: ThreadSettingsUpdateParams) -> Reply:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    sent = params.model_fields_set - {"thread_id", "multi_agent_mode"}
    _refuse_unsupported(params)
    settings = thread.settings
    mode = params.collaboration_mode
    if mode is not None:
        settings.model = mode.settings.model
        settings.reasoning_effort = mode.settings.reasoning_effort
        settings.developer_instructions = mode.settings.developer_instructions
    if params.environments:
        settings.cwd = app.threads.default_settings(params.environments[0].cwd).cwd
    _apply_overrides(conn, settings, params)
    if "service_tier" in sent and params.service_tier is None:
        settings.service_tier = None
    if params.permissions is not None:
        settings.sandbox_policy = sandbox_policy_for_mode(
            PERMISSION_PROFILES[params.permissions], app.config, settings.cwd
        )
    if not sent:
        return Reply(ThreadSettingsUpdateResponse())
    recipients = app.subscribers(thread.id)
    if conn not in recipients:
        recipients = [*recipients, conn]
    changed = {"threadId": thread.id, "threadSettings": thread_settings_wire(thread)}
    return Reply(ThreadSettingsUpdateResponse(), lambda: app.deliver(recipients, "thread/settings/updated", changed))


def _refuse_unsupported(params: ThreadSettingsUpdateParams) -> None:
    """Settings this server cannot honour are refused, never silently ignored."""
    if params.permissions is not None:
        if params.sandbox_policy is not None:
            raise InvalidParams("`permissions` cannot be combined with `sandboxPolicy`; send one of them")
        if params.permissions not in PERMISSION_PROFILES:
            known = ", ".join(PERMISSION_PROFILES)
            raise InvalidParams(f"unknown permission profile `{params.permissions}`; one of {known}")
    if params.collaboration_mode is not None and params.collaboration_mode.mode != "default":
        raise InvalidParams(
            f"collaboration mode `{params.collaboration_mode.mode}` is not supported by this server; send `default`"
        )
    for environment in params.environments or []:
        if environment.environment_id != LOCAL_ENVIRONMENT:
            raise InvalidParams(
                f"unknown environment `{environment.environment_id}`; this server has only `{LOCAL_ENVIRONMENT}`"
            )
    if params.disabled_plugin_ids:
        raise InvalidParams(
            "plugins cannot be disabled per thread here; disable one for every thread with "
            '`[plugins."<plugin>@<marketplace>"] enabled = false` in config.toml, and send [] or omit disabledPluginIds'
        )


def thread_settings_wire(thread: LoadedThread) -> dict[str, Any]:
    """The reference's ``ThreadSettings`` view of a loaded thread."""
    settings = thread.settings
    profile = _PROFILE_OF_POLICY.get(str(settings.sandbox_policy.get("type")))
    return {
        "model": settings.model,
        "modelProvider": settings.model_provider,
        "cwd": settings.cwd,
        "approvalPolicy": settings.approval_policy,
        "approvalsReviewer": settings.approvals_reviewer,
        "sandboxPolicy": settings.sandbox_policy,
        "activePermissionProfile": {"id": profile, "extends": None} if profile else None,
        "collaborationMode": {
            "mode": "default",
            "settings": {
                "model": settings.model,
                "reasoning_effort": settings.reasoning_effort,
                "developer_instructions": settings.developer_instructions,
            },
        },
        "effort": settings.reasoning_effort,
        "summary": settings.reasoning_summary,
        "serviceTier": settings.service_tier,
        "personality": settings.personality,
        "disabledPluginIds": [],
    }


@handler("turn/settings/update")
async def turn_settings_update(conn: Connection, params: TurnSettingsUpdateParams) -> TurnSettingsUpdateResponse:
    for name, value in (
        ("serviceTier", params.service_tier),
        ("approvalsReviewer", params.approvals_reviewer),
        ("environments", params.environments),
    ):
        if value is not None:
            raise InvalidParams(
                f"`{name}` cannot change for a running turn on this server; only model, effort and summary can "
                "(thread/settings/update changes it for the next turns)"
            )
    runner = conn.app.threads.require_loaded(params.thread_id).active
    if runner is None or runner.turn_id != params.turn_id:
        return TurnSettingsUpdateResponse(status="targetUnavailable")
    changes = {"model": params.model, "effort": params.effort, "summary": params.summary}
    runner.step_settings.update({key: value for key, value in changes.items() if value is not None})
    return TurnSettingsUpdateResponse(status="applied")


@handler("collaborationMode/list")
async def collaboration_mode_list(
    conn: Connection, params: CollaborationModeListParams
) -> CollaborationModeListResponse:
    # Only the default mode exists here (a `plan` mode is refused by thread/settings/update).
    return CollaborationModeListResponse(data=[CollaborationModeMask(name="Default", mode="default")])
