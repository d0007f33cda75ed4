"""Samples for the account, model, config, skills and hooks methods (merged into
``protocol_samples``)."""

from __future__ import annotations

from typing import Any

from agent_app_server.protocol import (
    AccountLoginCompletedNotification,
    AccountUpdatedNotification,
    ApiKeyLoginAccountParams,
    CancelLoginAccountParams,
    CancelLoginAccountResponse,
    ChatgptDeviceCodeLoginAccountResponse,
    ConfigBatchWriteParams,
    ConfigEdit,
    ConfigLayer,
    ConfigLayerMetadata,
    ConfigReadParams,
    ConfigReadResponse,
    ConfigRequirements,
    ConfigRequirementsReadResponse,
    ConfigValueWriteParams,
    ConfigWriteResponse,
    ExperimentalFeature,
    ExperimentalFeatureEnablementSetParams,
    ExperimentalFeatureEnablementSetResponse,
    ExperimentalFeatureListParams,
    ExperimentalFeatureListResponse,
    GetAccountParams,
    GetAccountRateLimitsParams,
    GetAccountRateLimitsResponse,
    GetAccountResponse,
    HookCompletedNotification,
    HookMetadata,
    HookOutputEntry,
    HookRunSummary,
    HooksListEntry,
    HooksListParams,
    HooksListResponse,
    HookStartedNotification,
    LoginAccountParams,
    LoginAccountResponse,
    LogoutAccountResponse,
    Model,
    ModelListParams,
    ModelListResponse,
    OverriddenMetadata,
    ProjectConfigLayerSource,
    RateLimitSnapshot,
    RateLimitWindow,
    ReasoningEffortOption,
    SessionFlagsConfigLayerSource,
    SkillErrorInfo,
    SkillMetadata,
    SkillsChangedNotification,
    SkillsConfigWriteParams,
    SkillsConfigWriteResponse,
    SkillsExtraRootsSetParams,
    SkillsExtraRootsSetResponse,
    SkillsListEntry,
    SkillsListParams,
    SkillsListResponse,
    UserConfigLayerSource,
    WireModel,
)

CWD = "/home/user/project"
USER_FILE = "/home/user/.codex/config.toml"


def surface_methods() -> dict[str, tuple[Any, WireModel]]:
    """Method name → (params or None for methods without params, result) samples."""
    user = ConfigLayerMetadata(name=UserConfigLayerSource(file=USER_FILE), version="sha256:00")
    snapshot = RateLimitSnapshot(
        limit_id="codex", primary=RateLimitWindow(used_percent=12, window_duration_mins=300), plan_type="pro"
    )
    return {
        "account/read": (
            GetAccountParams(refresh_token=True),
            GetAccountResponse.model_validate(
                {"account": {"type": "chatgpt", "email": "a@b.c", "planType": "pro"}, "requiresOpenaiAuth": True}
            ),
        ),
        "account/login/start": (
            LoginAccountParams(ApiKeyLoginAccountParams(api_key="sk-x")),
            LoginAccountResponse(
                ChatgptDeviceCodeLoginAccountResponse(login_id="l1", user_code="AB-12", verification_url="https://x/d")
            ),
        ),
        "account/login/cancel": (
            CancelLoginAccountParams(login_id="l1"),
            CancelLoginAccountResponse(status="canceled"),
        ),
        "account/logout": (None, LogoutAccountResponse()),
        "account/rateLimits/read": (
            GetAccountRateLimitsParams(exclude_reset_credit_details=True),
            GetAccountRateLimitsResponse(rate_limits=snapshot, rate_limits_by_limit_id={"codex": snapshot}),
        ),
        "model/list": (
            ModelListParams(limit=10, include_hidden=True),
            ModelListResponse(
                data=[
                    Model(
                        id="m",
                        model="m",
                        display_name="M",
                        description="",
                        hidden=False,
                        is_default=True,
                        supported_reasoning_efforts=[ReasoningEffortOption(reasoning_effort="low", description="Low")],
                        default_reasoning_effort="low",
                    )
                ],
                next_cursor="1",
            ),
        ),
        "config/read": (
            ConfigReadParams(include_layers=True, cwd=CWD),
            ConfigReadResponse.model_validate(
                {
                    "config": {"model": "m", "sandbox_workspace_write": {"network_access": True}, "tui": {"x": 1}},
                    "origins": {"model": user.to_wire()},
                    "layers": [
                        ConfigLayer(name=SessionFlagsConfigLayerSource(), version="sha256:1", config={}).to_wire(),
                        ConfigLayer(
                            name=ProjectConfigLayerSource(dot_codex_folder=CWD + "/.codex"),
                            version="sha256:2",
                            config={},
                            disabled_reason="untrusted",
                        ).to_wire(),
                    ],
                }
            ),
        ),
        "config/value/write": (
            ConfigValueWriteParams(key_path="model", merge_strategy="replace", value="m", expected_version="sha256:0"),
            ConfigWriteResponse(
                status="okOverridden",
                version="sha256:1",
                file_path=USER_FILE,
                overridden_metadata=OverriddenMetadata(
                    message="overridden", overriding_layer=user, effective_value="other"
                ),
            ),
        ),
        "config/batchWrite": (
            ConfigBatchWriteParams(
                edits=[ConfigEdit(key_path="tui", merge_strategy="upsert", value={"a": 1})], reload_user_config=True
            ),
            ConfigWriteResponse(status="ok", version="sha256:1", file_path=USER_FILE),
        ),
        "configRequirements/read": (
            None,
            ConfigRequirementsReadResponse(requirements=ConfigRequirements(allowed_sandbox_modes=["read-only"])),
        ),
        "experimentalFeature/list": (
            ExperimentalFeatureListParams(limit=5),
            ExperimentalFeatureListResponse(
                data=[ExperimentalFeature(name="f", stage="beta", enabled=True, default_enabled=False)]
            ),
        ),
        "experimentalFeature/enablement/set": (
            ExperimentalFeatureEnablementSetParams(enablement={"f": True}),
            ExperimentalFeatureEnablementSetResponse(enablement={"f": True}),
        ),
        "skills/extraRoots/set": (
            SkillsExtraRootsSetParams(extra_roots=[CWD + "/skills"]),
            SkillsExtraRootsSetResponse(),
        ),
        "skills/list": (
            SkillsListParams(cwds=[CWD], force_reload=True),
            SkillsListResponse(
                data=[
                    SkillsListEntry(
                        cwd=CWD,
                        skills=[
                            SkillMetadata(
                                name="s",
                                description="d",
                                path=CWD + "/.codex/skills/s/SKILL.md",
                                scope="repo",
                                enabled=True,
                            )
                        ],
                        errors=[SkillErrorInfo(path=CWD + "/.codex/skills/b/SKILL.md", message="bad")],
                    )
                ]
            ),
        ),
        "skills/config/write": (
            SkillsConfigWriteParams(enabled=False, name="s"),
            SkillsConfigWriteResponse(effective_enabled=False),
        ),
        "hooks/list": (
            HooksListParams(cwds=[CWD]),
            HooksListResponse(
                data=[
                    HooksListEntry(
                        cwd=CWD,
                        hooks=[
                            HookMetadata.model_validate(
                                {
                                    "key": "k",
                                    "eventName": "preToolUse",
                                    "handlerType": "command",
                                    "command": "echo",
                                    "async": False,
                                    "timeoutSec": 30,
                                    "sourcePath": USER_FILE,
                                    "source": "user",
                                    "displayOrder": 0,
                                    "enabled": True,
                                    "isManaged": False,
                                    "currentHash": "sha256:0",
                                    "trustStatus": "untrusted",
                                }
                            )
                        ],
                        warnings=[],
                        errors=[],
                    )
                ]
            ),
        ),
    }


_HOOK_RUN = HookRunSummary(
    id="stop:0:/home/u/.codex/config.toml",
    event_name="stop",
    handler_type="command",
    execution_mode="sync",
    scope="turn",
    source_path="/home/u/.codex/config.toml",
    source="user",
    display_order=0,
    status="blocked",
    started_at=1,
    completed_at=2,
    duration_ms=40,
    entries=[HookOutputEntry(kind="feedback", text="keep going")],
)


def surface_notifications() -> dict[str, WireModel]:
    return {
        "account/login/completed": AccountLoginCompletedNotification(success=False, login_id="l1", error="cancelled"),
        "account/updated": AccountUpdatedNotification(auth_mode="chatgpt", plan_type="plus"),
        "skills/changed": SkillsChangedNotification(),
        "hook/started": HookStartedNotification(thread_id="t", turn_id="u", run=_HOOK_RUN),
        "hook/completed": HookCompletedNotification(thread_id="t", turn_id=None, run=_HOOK_RUN),
    }


SURFACE_CLIENT_PARAMS: dict[str, Any] = {
    "skills/extraRoots/set": {"extraRoots": [CWD + "/skills"]},
    "account/read": {"refreshToken": False},
    "account/login/start": {"type": "chatgpt"},
    "account/login/cancel": {"loginId": "l1"},
    "account/logout": None,
    "account/rateLimits/read": None,
    "model/list": {"limit": 50, "includeHidden": False},
    "config/read": {"includeLayers": True, "cwd": CWD},
    "config/value/write": {"keyPath": "model", "value": "gpt-5.5", "mergeStrategy": "replace"},
    "config/batchWrite": {
        "edits": [{"keyPath": "a.b", "value": 1, "mergeStrategy": "upsert"}],
        "reloadUserConfig": True,
    },
    "configRequirements/read": None,
    "experimentalFeature/list": {},
    "experimentalFeature/enablement/set": {"enablement": {}},
    "skills/list": {"cwds": [CWD]},
    "skills/config/write": {"path": CWD + "/.codex/skills/s/SKILL.md", "enabled": True},
    "hooks/list": {"cwds": [CWD]},
}
