"""Representative instances of every registered protocol type, shared by the protocol tests.

Each sample fills optional fields and nested types where it can, so that serialization is
checked against the reference schema beyond the all-defaults shape.
"""

from __future__ import annotations

from typing import Any

from plugin_samples import PLUGIN_CLIENT_PARAMS, plugin_methods
from surface_samples import SURFACE_CLIENT_PARAMS, surface_methods, surface_notifications

from agent_app_server.protocol import (
    AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision,
    AccountRateLimitsUpdatedNotification,
    ActiveThreadStatus,
    AddPatchChangeKind,
    AgentMessageDeltaNotification,
    AgentMessageDisplay,
    AgentMessageModeration,
    AgentMessageThreadItem,
    AsyncUserInputQuestion,
    AudioUserInput,
    ByteRange,
    ChatgptAuthTokensRefreshParams,
    ChatgptAuthTokensRefreshResponse,
    ClientInfo,
    CollabAgentState,
    CollabAgentToolCallThreadItem,
    CollaborationMode,
    CommandExecOutputDeltaNotification,
    CommandExecutionOutputDeltaNotification,
    CommandExecutionRequestApprovalParams,
    CommandExecutionRequestApprovalResponse,
    CommandExecutionThreadItem,
    ConfigWarningNotification,
    ContextCompactedNotification,
    ContextCompactionThreadItem,
    CreditsSnapshot,
    CustomSessionSource,
    DeletePatchChangeKind,
    DeprecationNoticeNotification,
    DynamicToolCallParams,
    DynamicToolCallResponse,
    DynamicToolCallThreadItem,
    EncryptedContentFunctionCallOutputContentItem,
    EnteredReviewModeThreadItem,
    ErrorNotification,
    ExecpolicyAmendment,
    ExitedReviewModeThreadItem,
    FileChangeOutputDeltaNotification,
    FileChangeRequestApprovalParams,
    FileChangeRequestApprovalResponse,
    FileChangeThreadItem,
    FileUpdateChange,
    FindInPageWebSearchAction,
    FunctionCallOutputThreadItem,
    GitInfo,
    GranularApprovalConfig,
    GranularAskForApproval,
    HookPromptFragment,
    HookPromptThreadItem,
    HttpStatusDetails,
    IdleThreadStatus,
    ImageGenerationFailure,
    ImageGenerationInputImage,
    ImageGenerationThreadItem,
    ImageUserInput,
    ImageViewThreadItem,
    InitializeCapabilities,
    InitializeParams,
    InitializeResponse,
    InputAudioDynamicToolCallOutputContentItem,
    InputImageDynamicToolCallOutputContentItem,
    InputImageFunctionCallOutputContentItem,
    InputTextDynamicToolCallOutputContentItem,
    InputTextFunctionCallOutputContentItem,
    ItemCompletedNotification,
    ItemStartedNotification,
    ListFilesCommandAction,
    LocalImageUserInput,
    McpAppUi,
    McpServerStatusUpdatedNotification,
    McpToolCallAppContext,
    McpToolCallError,
    McpToolCallResult,
    McpToolCallThreadItem,
    MemoryCitation,
    MemoryCitationEntry,
    MentionUserInput,
    MisalignmentErrorDetails,
    MisalignmentSteer,
    NetworkApprovalContext,
    NetworkPolicyAmendment,
    NotLoadedThreadStatus,
    OtherSubAgentSource,
    PlanDeltaNotification,
    PlanThreadItem,
    RateLimitSnapshot,
    RateLimitWindow,
    ReadCommandAction,
    ReadOnlySandboxPolicy,
    ReasoningSummaryPartAddedNotification,
    ReasoningSummaryTextDeltaNotification,
    ReasoningTextDeltaNotification,
    ReasoningThreadItem,
    RemoteControlStatusChangedNotification,
    ResponseTooManyFailedAttemptsCodexErrorInfo,
    SearchCommandAction,
    SearchWebSearchAction,
    ServerRequestResolvedNotification,
    Settings,
    SkillUserInput,
    SleepThreadItem,
    SpendControlLimitSnapshot,
    SubAgentActivityThreadItem,
    SubAgentSessionSource,
    SystemErrorThreadStatus,
    TextElement,
    TextPosition,
    TextRange,
    TextUserInput,
    Thread,
    ThreadArchivedNotification,
    ThreadArchiveParams,
    ThreadArchiveResponse,
    ThreadClosedNotification,
    ThreadCompactStartParams,
    ThreadCompactStartResponse,
    ThreadDeletedNotification,
    ThreadDeleteParams,
    ThreadDeleteResponse,
    ThreadForkParams,
    ThreadForkResponse,
    ThreadInjectItemsParams,
    ThreadInjectItemsResponse,
    ThreadItem,
    ThreadItemEntry,
    ThreadItemsListAnchor,
    ThreadItemsListParams,
    ThreadItemsListResponse,
    ThreadItemsReadParams,
    ThreadItemsReadResponse,
    ThreadListParams,
    ThreadListResponse,
    ThreadLoadedListParams,
    ThreadLoadedListResponse,
    ThreadMetadataGitInfoUpdateParams,
    ThreadMetadataUpdateParams,
    ThreadMetadataUpdateResponse,
    ThreadNameUpdatedNotification,
    ThreadReadParams,
    ThreadReadResponse,
    ThreadReadState,
    ThreadReadStateChangedNotification,
    ThreadResumeParams,
    ThreadResumeResponse,
    ThreadRevertedNotification,
    ThreadRevertParams,
    ThreadRevertResponse,
    ThreadSection,
    ThreadSectionAppearance,
    ThreadSetNameParams,
    ThreadSetNameResponse,
    ThreadSpawnDetails,
    ThreadSpawnSubAgentSource,
    ThreadStartedNotification,
    ThreadStartParams,
    ThreadStartResponse,
    ThreadStatusChangedNotification,
    ThreadTokenUsage,
    ThreadTokenUsageUpdatedNotification,
    ThreadTurnsListParams,
    ThreadTurnsListResponse,
    ThreadUnarchivedNotification,
    ThreadUnarchiveParams,
    ThreadUnarchiveResponse,
    ThreadUnsubscribeParams,
    ThreadUnsubscribeResponse,
    TokenUsageBreakdown,
    ToolRequestUserInputAnswer,
    ToolRequestUserInputOption,
    ToolRequestUserInputParams,
    ToolRequestUserInputQuestion,
    ToolRequestUserInputResponse,
    Turn,
    TurnCompletedNotification,
    TurnDiffUpdatedNotification,
    TurnError,
    TurnInterruptParams,
    TurnInterruptResponse,
    TurnPlanStep,
    TurnPlanUpdatedNotification,
    TurnStartedNotification,
    TurnStartParams,
    TurnStartResponse,
    TurnSteerParams,
    TurnSteerResponse,
    TurnThreadUnreadPosition,
    TurnToolOutput,
    UnknownCommandAction,
    UpdatePatchChangeKind,
    UserMessageThreadItem,
    WarningNotification,
    WebSearchThreadItem,
    WireModel,
    WorkspaceWriteSandboxPolicy,
)

THREAD_ID = "019a0000-0000-7000-8000-000000000001"
TURN_ID = "019a0000-0000-7000-8000-000000000002"
CWD = "/home/user/project"


def thread_items() -> list[ThreadItem]:
    """One of each of the 19 ``ThreadItem`` variants, nested types filled in."""
    return [
        UserMessageThreadItem(
            id="u1",
            client_id="client-1",
            content=[
                TextUserInput(
                    text="hello @file",
                    text_elements=[TextElement(byte_range=ByteRange(start=6, end=11), placeholder="@file")],
                ),
                ImageUserInput(url="https://example.com/a.png", detail="high"),
                AudioUserInput(file_id="file-audio"),
                LocalImageUserInput(path="/tmp/a.png"),
                SkillUserInput(name="skill", path="/skills/skill/SKILL.md"),
                MentionUserInput(name="app", path="app://app"),
            ],
            started_at_ms=1_764_000_000_000,
            completed_at_ms=1_764_000_000_001,
        ),
        HookPromptThreadItem(id="h1", fragments=[HookPromptFragment(hook_run_id="run-1", text="be brief")]),
        AgentMessageThreadItem(
            id="msg_1",
            text="Hi!",
            phase="final_answer",
            delivery="async",
            memory_citation=MemoryCitation(
                entries=[MemoryCitationEntry(path="notes.md", line_start=1, line_end=2, note="n")],
                thread_ids=[THREAD_ID],
            ),
            moderation=AgentMessageModeration(moderated=True, display=AgentMessageDisplay(action="collapse")),
            questions=[AsyncUserInputQuestion(title="Proceed?", options=["yes", "no"])],
        ),
        FunctionCallOutputThreadItem(
            id="fco1",
            name="lookup",
            namespace="tools",
            output=[
                InputTextFunctionCallOutputContentItem(text="result"),
                InputImageFunctionCallOutputContentItem(image_url="data:image/png;base64,AA==", detail="low"),
                EncryptedContentFunctionCallOutputContentItem(encrypted_content="opaque"),
            ],
        ),
        PlanThreadItem(id="p1", text="1. do it"),
        ReasoningThreadItem(id="rs_1", summary=["thinking"], content=[]),
        CommandExecutionThreadItem(
            id="call_1",
            command="/bin/bash -lc 'cat a.txt; ls src; rg foo'",
            cwd=CWD,
            status="completed",
            command_actions=[
                ReadCommandAction(command="cat a.txt", name="a.txt", path=f"{CWD}/a.txt"),
                ListFilesCommandAction(command="ls src", path="src"),
                SearchCommandAction(command="rg foo", query="foo"),
                UnknownCommandAction(command="true"),
            ],
            source="unifiedExecStartup",
            process_id="1234",
            aggregated_output="hi\n",
            exit_code=0,
            duration_ms=12,
        ),
        FileChangeThreadItem(
            id="call_2",
            status="completed",
            changes=[
                FileUpdateChange(path=f"{CWD}/new.txt", kind=AddPatchChangeKind(), diff="hi\n"),
                FileUpdateChange(path=f"{CWD}/old.txt", kind=DeletePatchChangeKind(), diff=""),
                FileUpdateChange(
                    path=f"{CWD}/a.txt",
                    kind=UpdatePatchChangeKind(move_path=f"{CWD}/b.txt"),
                    diff="@@ -1 +1 @@\n-hello\n+hello, world\n",
                ),
            ],
        ),
        McpToolCallThreadItem(
            id="mcp1",
            server="docs",
            tool="search",
            status="completed",
            arguments={"q": "x"},
            result=McpToolCallResult(
                content=[{"type": "text", "text": "found"}], structured_content={"hits": 1}, meta={"k": "v"}
            ),
            duration_ms=5,
            app_context=McpToolCallAppContext(connector_id="conn", app_name="Docs"),
            mcp_app_ui=McpAppUi(resource_uri="ui://docs", preferred_model_display_mode="inline"),
            read_only_hint=True,
        ),
        McpToolCallThreadItem(
            id="mcp2",
            server="docs",
            tool="search",
            status="failed",
            arguments=None,
            error=McpToolCallError(message="x"),
        ),
        DynamicToolCallThreadItem(
            id="dyn1",
            tool="weather",
            arguments={"city": "Paris"},
            status="completed",
            content_items=[
                InputTextDynamicToolCallOutputContentItem(text="sunny"),
                InputImageDynamicToolCallOutputContentItem(image_url="https://example.com/sun.png"),
                InputAudioDynamicToolCallOutputContentItem(audio_url="https://example.com/sun.mp3"),
            ],
            success=True,
            duration_ms=3,
        ),
        CollabAgentToolCallThreadItem(
            id="collab1",
            tool="spawnAgent",
            status="completed",
            sender_thread_id=THREAD_ID,
            receiver_thread_ids=["019a0000-0000-7000-8000-000000000009"],
            agents_states={"019a0000-0000-7000-8000-000000000009": CollabAgentState(status="running")},
            prompt="help",
            model="gpt-5.5",
            reasoning_effort="medium",
        ),
        SubAgentActivityThreadItem(
            id="sub1", kind="started", agent_path="/root/helper", agent_thread_id="019a0000-0000-7000-8000-000000000009"
        ),
        WebSearchThreadItem(
            id="ws1",
            query="weather",
            action=SearchWebSearchAction(query="weather", queries=["weather"]),
            results=[{"title": "t"}],
        ),
        WebSearchThreadItem(id="ws2", query="", action=FindInPageWebSearchAction(url="https://x", pattern="y")),
        ImageViewThreadItem(id="iv1", path="/tmp/a.png"),
        SleepThreadItem(id="sl1", duration_ms=1000),
        ImageGenerationThreadItem(
            id="ig1",
            status="completed",
            file_id="file-1",
            revised_prompt="a cat",
            saved_path="/tmp/cat.png",
            input_images=[ImageGenerationInputImage(path="/tmp/in.png", sha256="ab" * 32)],
            failure=ImageGenerationFailure(limit_id="images", resets_at=1_764_000_000),
        ),
        ImageGenerationThreadItem(id="ig2", status="generating", result=""),
        EnteredReviewModeThreadItem(id="rv1", review="current changes"),
        ExitedReviewModeThreadItem(id="rv2", review="looks good"),
        ContextCompactionThreadItem(id="cc1"),
    ]


def turn(*, failed: bool = False) -> Turn:
    return Turn(
        id=TURN_ID,
        root_turn_id=TURN_ID,
        status="failed" if failed else "completed",
        items=thread_items(),
        items_view="full",
        error=TurnError(
            message="exceeded retry limit, last status: 429 Too Many Requests",
            codex_error_info=ResponseTooManyFailedAttemptsCodexErrorInfo(
                response_too_many_failed_attempts=HttpStatusDetails(http_status_code=429)
            ),
            misalignment=MisalignmentErrorDetails(steer=MisalignmentSteer(message="continue")),
        )
        if failed
        else None,
        started_at=1_764_000_000,
        completed_at=1_764_000_010,
        duration_ms=10_000,
    )


def thread(*, with_turns: bool = True) -> Thread:
    return Thread(
        id=THREAD_ID,
        session_id=THREAD_ID,
        preview="hello",
        ephemeral=False,
        model_provider="openai",
        created_at=1_764_000_000,
        updated_at=1_764_000_010,
        status=ActiveThreadStatus(active_flags=["waitingOnApproval"]),
        cwd=CWD,
        cli_version="0.169.0",
        source="vscode",
        turns=[turn(), turn(failed=True)] if with_turns else [],
        project_id=None,
        name="Greeting",
        model="gpt-5.5",
        reasoning_effort="medium",
        originator="my-client",
        git_info=GitInfo(sha="abc123", branch="main", origin_url="https://example.com/repo.git"),
        history_mode="paginated",
        section=ThreadSection(id="s1", name="Work", appearance=ThreadSectionAppearance(color="blue")),
    )


def forked_thread() -> Thread:
    """A sub-agent thread: exercises the object forms of ``SessionSource``."""
    return thread(with_turns=False).model_copy(
        update={
            "source": SubAgentSessionSource(
                sub_agent=ThreadSpawnSubAgentSource(
                    thread_spawn=ThreadSpawnDetails(parent_thread_id=THREAD_ID, depth=1, agent_role="worker")
                )
            ),
            "status": IdleThreadStatus(),
            "forked_from_id": THREAD_ID,
        }
    )


_SESSION = {
    "model": "gpt-5.5",
    "model_provider": "openai",
    "cwd": CWD,
    "approval_policy": "on-request",
    "approvals_reviewer": "user",
    "sandbox": WorkspaceWriteSandboxPolicy(writable_roots=[CWD], network_access=True),
    "reasoning_effort": "medium",
    "instruction_sources": [f"{CWD}/AGENTS.md"],
}

TOKENS = TokenUsageBreakdown(
    total_tokens=30, input_tokens=20, cached_input_tokens=5, output_tokens=10, reasoning_output_tokens=2
)


def methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Method name → (params, result) samples."""
    return {
        "initialize": (
            InitializeParams(
                client_info=ClientInfo(name="my-client", version="1.0.0", title="My Client"),
                capabilities=InitializeCapabilities(experimental_api=True, opt_out_notification_methods=["warning"]),
            ),
            InitializeResponse(
                user_agent="my-client/0.169.0 (Linux)",
                codex_home="/home/user/.codex",
                platform_family="unix",
                platform_os="linux",
            ),
        ),
        "thread/start": (
            ThreadStartParams(
                model="gpt-5.5",
                cwd=CWD,
                approval_policy="never",
                sandbox="workspace-write",
                config={"model_reasoning_effort": "high"},
                personality="pragmatic",
                ephemeral=True,
                session_start_source="startup",
            ),
            ThreadStartResponse(thread=thread(with_turns=False), **_SESSION),
        ),
        "thread/resume": (
            ThreadResumeParams(thread_id=THREAD_ID, exclude_turns=True, sandbox="read-only"),
            ThreadResumeResponse(
                thread=thread(),
                collaboration_mode=CollaborationMode(
                    mode="default", settings=Settings(model="gpt-5.5", reasoning_effort="low")
                ),
                turns_backwards_cursor="c1",
                **{**_SESSION, "sandbox": ReadOnlySandboxPolicy()},
            ),
        ),
        "thread/fork": (
            ThreadForkParams(thread_id=THREAD_ID, last_turn_id=TURN_ID, ephemeral=True),
            ThreadForkResponse(thread=forked_thread(), **_SESSION),
        ),
        "thread/read": (
            ThreadReadParams(thread_id=THREAD_ID, include_turns=True),
            ThreadReadResponse(thread=thread()),
        ),
        "thread/list": (
            ThreadListParams(
                limit=10,
                sort_key="updated_at",
                sort_direction="desc",
                source_kinds=["vscode", "subAgentThreadSpawn"],
                cwd=[CWD],
                archived=False,
            ),
            ThreadListResponse(
                data=[
                    thread(with_turns=False),
                    thread(with_turns=False).model_copy(
                        update={"source": CustomSessionSource(custom="my-tool"), "status": NotLoadedThreadStatus()}
                    ),
                    thread(with_turns=False).model_copy(
                        update={"source": SubAgentSessionSource(sub_agent=OtherSubAgentSource(other="x"))}
                    ),
                    thread(with_turns=False).model_copy(update={"source": SubAgentSessionSource(sub_agent="review")}),
                ],
                next_cursor="2026-11-24T13:25:43Z|x",
            ),
        ),
        "thread/loaded/list": (
            ThreadLoadedListParams(limit=5),
            ThreadLoadedListResponse(data=[THREAD_ID]),
        ),
        "thread/name/set": (ThreadSetNameParams(thread_id=THREAD_ID, name="Renamed"), ThreadSetNameResponse()),
        "thread/archive": (ThreadArchiveParams(thread_id=THREAD_ID), ThreadArchiveResponse()),
        "thread/delete": (ThreadDeleteParams(thread_id=THREAD_ID), ThreadDeleteResponse()),
        "thread/inject_items": (
            ThreadInjectItemsParams(thread_id=THREAD_ID, items=[{"type": "message", "role": "user", "content": []}]),
            ThreadInjectItemsResponse(),
        ),
        "thread/metadata/update": (
            ThreadMetadataUpdateParams(
                thread_id=THREAD_ID, git_info=ThreadMetadataGitInfoUpdateParams(branch="main", sha=None)
            ),
            ThreadMetadataUpdateResponse(thread=thread(with_turns=False)),
        ),
        "thread/unarchive": (
            ThreadUnarchiveParams(thread_id=THREAD_ID),
            ThreadUnarchiveResponse(thread=thread(with_turns=False)),
        ),
        "thread/unsubscribe": (
            ThreadUnsubscribeParams(thread_id=THREAD_ID),
            ThreadUnsubscribeResponse(status="unsubscribed"),
        ),
        "thread/revert": (
            ThreadRevertParams(thread_id=THREAD_ID, before_turn_id=TURN_ID),
            ThreadRevertResponse(
                thread=thread(with_turns=False), turns_backwards_cursor="t", items_backwards_cursor="i"
            ),
        ),
        "thread/turns/list": (
            ThreadTurnsListParams(thread_id=THREAD_ID, limit=2, items_view="summary"),
            ThreadTurnsListResponse(data=[turn()], backwards_cursor="b"),
        ),
        "thread/items/list": (
            ThreadItemsListParams(
                thread_id=THREAD_ID, turn_id=TURN_ID, cursor=ThreadItemsListAnchor(item_id="u1"), sort_direction="asc"
            ),
            ThreadItemsListResponse(
                data=[ThreadItemEntry(turn_id=TURN_ID, item=item, started_at_ms=1) for item in thread_items()]
            ),
        ),
        "thread/items/read": (
            ThreadItemsReadParams(thread_id=THREAD_ID, turn_id=TURN_ID, item_ids=["u1"]),
            ThreadItemsReadResponse(data=[ThreadItemEntry(turn_id=TURN_ID, item=thread_items()[0])]),
        ),
        "thread/compact/start": (ThreadCompactStartParams(thread_id=THREAD_ID), ThreadCompactStartResponse()),
        "turn/start": (
            TurnStartParams(
                thread_id=THREAD_ID,
                input=[TextUserInput(text="hi")],
                effort="high",
                summary="concise",
                approval_policy=GranularAskForApproval(
                    granular=GranularApprovalConfig(mcp_elicitations=True, rules=False, sandbox_approval=True)
                ),
                sandbox_policy=WorkspaceWriteSandboxPolicy(),
                output_schema={"type": "object"},
                tool_output=TurnToolOutput(name="lookup", output="42", retain=True),
            ),
            TurnStartResponse(
                turn=Turn(id=TURN_ID, root_turn_id=TURN_ID, status="inProgress", items=[], items_view="notLoaded")
            ),
        ),
        "turn/steer": (
            TurnSteerParams(thread_id=THREAD_ID, expected_turn_id=TURN_ID, input=[TextUserInput(text="also")]),
            TurnSteerResponse(turn_id=TURN_ID),
        ),
        "turn/interrupt": (TurnInterruptParams(thread_id=THREAD_ID, turn_id=TURN_ID), TurnInterruptResponse()),
        **fs_methods(),
        **exec_methods(),
        **tools_methods(),
        **server_info_methods(),
        **attachment_methods(),
        **section_methods(),
        **terminal_methods(),
        **thread_settings_samples()[0],
        **queue_samples()[0],
        **surface_methods(),
        **plugin_methods(),
        **search_methods(),
        **process_samples()[0],
        **goal_samples()[0],
        **usage_methods(),
        **review_methods(),
        **external_agent_samples()[0],
        **mcp_oauth_samples()[0],
    }


def notifications() -> dict[str, WireModel]:
    """Notification method → params sample."""
    ids: dict[str, Any] = {"thread_id": THREAD_ID, "turn_id": TURN_ID}
    delta: dict[str, Any] = {**ids, "item_id": "item-1", "delta": "chunk"}
    return {
        "thread/started": ThreadStartedNotification(thread=thread(with_turns=False)),
        "thread/status/changed": ThreadStatusChangedNotification(thread_id=THREAD_ID, status=SystemErrorThreadStatus()),
        "thread/name/updated": ThreadNameUpdatedNotification(thread_id=THREAD_ID, thread_name="Renamed"),
        "thread/archived": ThreadArchivedNotification(thread_id=THREAD_ID),
        "thread/unarchived": ThreadUnarchivedNotification(thread_id=THREAD_ID),
        "thread/deleted": ThreadDeletedNotification(thread_id=THREAD_ID),
        "thread/closed": ThreadClosedNotification(thread_id=THREAD_ID),
        "thread/reverted": ThreadRevertedNotification(thread_id=THREAD_ID),
        "thread/compacted": ContextCompactedNotification(**ids),
        "thread/tokenUsage/updated": ThreadTokenUsageUpdatedNotification(
            **ids, token_usage=ThreadTokenUsage(total=TOKENS, last=TOKENS, model_context_window=272_000)
        ),
        "thread/readState/changed": ThreadReadStateChangedNotification(
            thread_id=THREAD_ID,
            read_state=ThreadReadState(revision="r1", first_unread=TurnThreadUnreadPosition(turn_id=TURN_ID)),
        ),
        "turn/started": TurnStartedNotification(
            thread_id=THREAD_ID, turn=Turn(id=TURN_ID, status="inProgress", items=[], started_at=1_764_000_000)
        ),
        "turn/completed": TurnCompletedNotification(thread_id=THREAD_ID, turn=turn(failed=True)),
        "turn/diff/updated": TurnDiffUpdatedNotification(**ids, diff="diff --git a/x b/x\n"),
        "turn/plan/updated": TurnPlanUpdatedNotification(
            **ids, plan=[TurnPlanStep(step="read", status="completed"), TurnPlanStep(step="write", status="inProgress")]
        ),
        "item/started": ItemStartedNotification(
            **ids, item=AgentMessageThreadItem(id="msg_1", text=""), started_at_ms=1_764_000_000_000
        ),
        "item/completed": ItemCompletedNotification(
            **ids, item=ReasoningThreadItem(id="rs_1"), completed_at_ms=1_764_000_000_500, content_token_count=12
        ),
        "item/agentMessage/delta": AgentMessageDeltaNotification(**delta),
        "item/reasoning/summaryPartAdded": ReasoningSummaryPartAddedNotification(
            **ids, item_id="rs_1", summary_index=0
        ),
        "item/reasoning/summaryTextDelta": ReasoningSummaryTextDeltaNotification(**delta, summary_index=0),
        "item/reasoning/textDelta": ReasoningTextDeltaNotification(**delta, content_index=0),
        "item/commandExecution/outputDelta": CommandExecutionOutputDeltaNotification(**delta),
        "item/fileChange/outputDelta": FileChangeOutputDeltaNotification(**delta),
        "item/plan/delta": PlanDeltaNotification(**delta),
        "serverRequest/resolved": ServerRequestResolvedNotification(thread_id=THREAD_ID, request_id=0),
        "error": ErrorNotification(
            **ids, error=TurnError(message="Quota exceeded.", codex_error_info="usageLimitExceeded"), will_retry=False
        ),
        "warning": WarningNotification(message="Model metadata not found", thread_id=THREAD_ID),
        "configWarning": ConfigWarningNotification(
            summary="bad key",
            path="/home/user/.codex/config.toml",
            range=TextRange(start=TextPosition(line=1, column=1), end=TextPosition(line=1, column=5)),
        ),
        "deprecationNotice": DeprecationNoticeNotification(summary="includeTurns is deprecated"),
        "account/rateLimits/updated": AccountRateLimitsUpdatedNotification(
            rate_limits=RateLimitSnapshot(
                limit_id="codex",
                primary=RateLimitWindow(used_percent=42, window_duration_mins=300, resets_at=1_764_000_000),
                credits=CreditsSnapshot(has_credits=True, unlimited=False, balance="10"),
                individual_limit=SpendControlLimitSnapshot(
                    limit="100", used="10", remaining_percent=90, resets_at=1_764_000_000
                ),
                plan_type="pro",
                rate_limit_reached_type="rate_limit_reached",
            )
        ),
        "remoteControl/status/changed": RemoteControlStatusChangedNotification(
            status="disabled", server_name="host", installation_id="inst-1"
        ),
        "command/exec/outputDelta": CommandExecOutputDeltaNotification(
            process_id="p1", stream="stdout", delta_base64="aGkK", cap_reached=False
        ),
        "mcpServer/startupStatus/updated": McpServerStatusUpdatedNotification(
            name="docs", status="failed", error="boom", failure_reason="reauthenticationRequired"
        ),
        **fs_notifications(),
        **tools_notifications(),
        **attachment_notifications(),
        **section_notifications(),
        **thread_settings_samples()[1],
        **queue_samples()[1],
        **surface_notifications(),
        **process_samples()[1],
        **goal_samples()[1],
        **external_agent_samples()[1],
        **mcp_oauth_samples()[1],
    }


def server_requests() -> dict[str, tuple[WireModel, WireModel]]:
    """Server-request method → (params, result) samples."""
    return {
        "item/commandExecution/requestApproval": (
            CommandExecutionRequestApprovalParams(
                thread_id=THREAD_ID,
                turn_id=TURN_ID,
                item_id="call_1",
                started_at_ms=1_764_000_000_000,
                environment_id="local",
                command="/bin/bash -lc 'echo hi > out.txt'",
                cwd=CWD,
                command_actions=[UnknownCommandAction(command="echo hi > out.txt")],
                network_approval_context=NetworkApprovalContext(host="example.com", protocol="https"),
                proposed_execpolicy_amendment=["echo", "hi"],
                proposed_network_policy_amendments=[NetworkPolicyAmendment(host="example.com", action="allow")],
            ),
            CommandExecutionRequestApprovalResponse(
                decision=AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision(
                    accept_with_execpolicy_amendment=ExecpolicyAmendment(execpolicy_amendment=["echo", "hi"])
                )
            ),
        ),
        "item/fileChange/requestApproval": (
            FileChangeRequestApprovalParams(
                thread_id=THREAD_ID, turn_id=TURN_ID, item_id="call_2", started_at_ms=1_764_000_000_000
            ),
            FileChangeRequestApprovalResponse(decision="acceptForSession"),
        ),
        "item/tool/call": (
            DynamicToolCallParams(
                thread_id=THREAD_ID, turn_id=TURN_ID, call_id="call_3", tool="weather", arguments={"city": "Paris"}
            ),
            DynamicToolCallResponse(
                content_items=[InputTextDynamicToolCallOutputContentItem(text="sunny")], success=True
            ),
        ),
        "item/tool/requestUserInput": (
            ToolRequestUserInputParams(
                thread_id=THREAD_ID,
                turn_id=TURN_ID,
                item_id="q1",
                is_blocking=True,
                questions=[
                    ToolRequestUserInputQuestion(
                        id="color",
                        header="Color",
                        question="Which color?",
                        options=[ToolRequestUserInputOption(label="Red", description="warm")],
                    )
                ],
            ),
            ToolRequestUserInputResponse(answers={"color": ToolRequestUserInputAnswer(answers=["Red"])}),
        ),
        "account/chatgptAuthTokens/refresh": (
            ChatgptAuthTokensRefreshParams(reason="unauthorized", previous_account_id="acct-1"),
            ChatgptAuthTokensRefreshResponse(access_token="token", chatgpt_account_id="acct-1"),
        ),
    }


#: ``params`` as real clients send them, one per method: camelCase JSON, mostly minimal.
CLIENT_PARAMS: dict[str, dict[str, Any] | None] = {
    "initialize": {"clientInfo": {"name": "my-client", "version": "1.0.0"}, "capabilities": {"experimentalApi": True}},
    "thread/start": {"cwd": CWD, "approvalPolicy": "on-request", "sandbox": "workspace-write"},
    "thread/resume": {"threadId": THREAD_ID},
    "thread/fork": {"threadId": THREAD_ID},
    "thread/read": {"threadId": "x"},
    "thread/list": {"limit": 25, "sortKey": "created_at", "cwd": CWD},
    "thread/loaded/list": {},
    "thread/name/set": {"threadId": THREAD_ID, "name": "New name"},
    "thread/archive": {"threadId": THREAD_ID},
    "thread/unarchive": {"threadId": THREAD_ID},
    "thread/delete": {"threadId": THREAD_ID},
    "thread/inject_items": {
        "threadId": THREAD_ID,
        "items": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}],
    },
    "thread/metadata/update": {"threadId": THREAD_ID, "gitInfo": {"branch": "main", "sha": None}},
    "thread/unsubscribe": {"threadId": THREAD_ID},
    "thread/revert": {"threadId": THREAD_ID, "beforeTurnId": TURN_ID},
    "thread/turns/list": {"threadId": THREAD_ID, "sortDirection": "desc"},
    "thread/items/list": {"threadId": THREAD_ID, "turnId": TURN_ID, "cursor": {"type": "item", "itemId": "u1"}},
    "thread/items/read": {"threadId": THREAD_ID, "turnId": TURN_ID, "itemIds": ["u1", "a1"]},
    "thread/compact/start": {"threadId": THREAD_ID},
    "turn/start": {
        "threadId": THREAD_ID,
        "input": [{"type": "text", "text": "hi", "text_elements": []}, {"type": "image", "url": "https://x/a.png"}],
        "sandboxPolicy": {"type": "readOnly"},
    },
    "turn/steer": {"threadId": THREAD_ID, "expectedTurnId": TURN_ID, "input": [{"type": "text", "text": "more"}]},
    "turn/interrupt": {"threadId": THREAD_ID, "turnId": TURN_ID},
    "fs/readFile": {"path": CWD + "/README.md"},
    "fs/writeFile": {"path": CWD + "/out.bin", "dataBase64": "aGkK"},
    "fs/createDirectory": {"path": CWD + "/build", "recursive": None},
    "fs/getMetadata": {"path": CWD},
    "fs/readDirectory": {"path": CWD},
    "fs/remove": {"path": CWD + "/build", "force": False},
    "fs/copy": {"sourcePath": CWD + "/a", "destinationPath": CWD + "/b", "recursive": True},
    "fs/watch": {"watchId": "w1", "path": CWD + "/.git/HEAD"},
    "fs/unwatch": {"watchId": "w1"},
    "fuzzyFileSearch": {"query": "readme", "roots": [CWD], "cancellationToken": "t1"},
    "fuzzyFileSearch/sessionStart": {"sessionId": "s1", "roots": [CWD]},
    "fuzzyFileSearch/sessionUpdate": {"sessionId": "s1", "query": "readme"},
    "fuzzyFileSearch/sessionStop": {"sessionId": "s1"},
    "command/exec": {
        "command": ["bash", "-lc", "ls"],
        "processId": "p1",
        "tty": True,
        "size": {"rows": 24, "cols": 80},
        "env": {"TERM": "xterm", "UNSET_ME": None},
        "timeoutMs": 5000,
        "sandboxPolicy": {"type": "workspaceWrite", "networkAccess": True},
    },
    "command/exec/write": {"processId": "p1", "deltaBase64": "aGkK", "closeStdin": True},
    "command/exec/resize": {"processId": "p1", "size": {"rows": 30, "cols": 100}},
    "command/exec/terminate": {"processId": "p1"},
    "thread/shellCommand": {"threadId": THREAD_ID, "command": "git status", "timeoutMs": None},
}


def exec_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for command/exec* and thread/shellCommand."""
    from agent_app_server.protocol import exec as ex

    size = ex.CommandExecTerminalSize(rows=24, cols=80)
    return {
        "command/exec": (
            ex.CommandExecParams(command=["ls", "-la"], process_id="p1", tty=True, size=size, env={"A": None}),
            ex.CommandExecResponse(exit_code=0, stdout="a\n", stderr=""),
        ),
        "command/exec/write": (
            ex.CommandExecWriteParams(process_id="p1", delta_base64="aGkK", close_stdin=True),
            ex.CommandExecWriteResponse(),
        ),
        "command/exec/resize": (
            ex.CommandExecResizeParams(process_id="p1", size=size),
            ex.CommandExecResizeResponse(),
        ),
        "command/exec/terminate": (ex.CommandExecTerminateParams(process_id="p1"), ex.CommandExecTerminateResponse()),
        "thread/shellCommand": (
            ex.ThreadShellCommandParams(thread_id=THREAD_ID, command="git status"),
            ex.ThreadShellCommandResponse(),
        ),
    }


def fs_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for the fs/* methods and fuzzyFileSearch."""
    from agent_app_server.protocol import fs

    path = CWD + "/src/main.py"
    return {
        "fs/readFile": (fs.FsReadFileParams(path=path), fs.FsReadFileResponse(data_base64="aGkK")),
        "fs/writeFile": (fs.FsWriteFileParams(path=path, data_base64="aGkK"), fs.FsWriteFileResponse()),
        "fs/createDirectory": (
            fs.FsCreateDirectoryParams(path=CWD + "/build", recursive=False),
            fs.FsCreateDirectoryResponse(),
        ),
        "fs/getMetadata": (
            fs.FsGetMetadataParams(path=path),
            fs.FsGetMetadataResponse(
                is_directory=False, is_file=True, is_symlink=False, created_at_ms=0, modified_at_ms=1_764_000_000_000
            ),
        ),
        "fs/readDirectory": (
            fs.FsReadDirectoryParams(path=CWD),
            fs.FsReadDirectoryResponse(
                entries=[fs.FsReadDirectoryEntry(file_name="src", is_directory=True, is_file=False)]
            ),
        ),
        "fs/remove": (fs.FsRemoveParams(path=path, recursive=True, force=True), fs.FsRemoveResponse()),
        "fs/copy": (
            fs.FsCopyParams(source_path=path, destination_path=CWD + "/copy.py"),
            fs.FsCopyResponse(),
        ),
        "fs/watch": (fs.FsWatchParams(watch_id="w1", path=CWD), fs.FsWatchResponse(path=CWD)),
        "fs/unwatch": (fs.FsUnwatchParams(watch_id="w1"), fs.FsUnwatchResponse()),
        "fuzzyFileSearch": (
            fs.FuzzyFileSearchParams(query="main", roots=[CWD], cancellation_token="t1"),
            fs.FuzzyFileSearchResponse(
                files=[
                    fs.FuzzyFileSearchResult(
                        root=CWD,
                        path="src/main.py",
                        match_type="file",
                        file_name="main.py",
                        score=120,
                        indices=[4, 5, 6, 7],
                    ),
                    fs.FuzzyFileSearchResult(root=CWD, path="src", match_type="directory", file_name="src", score=3),
                ]
            ),
        ),
        "fuzzyFileSearch/sessionStart": (
            fs.FuzzyFileSearchSessionStartParams(session_id="s1", roots=[CWD]),
            fs.FuzzyFileSearchSessionStartResponse(),
        ),
        "fuzzyFileSearch/sessionUpdate": (
            fs.FuzzyFileSearchSessionUpdateParams(session_id="s1", query="main"),
            fs.FuzzyFileSearchSessionUpdateResponse(),
        ),
        "fuzzyFileSearch/sessionStop": (
            fs.FuzzyFileSearchSessionStopParams(session_id="s1"),
            fs.FuzzyFileSearchSessionStopResponse(),
        ),
    }


def fs_notifications() -> dict[str, WireModel]:
    from agent_app_server.protocol import fs

    match = fs.FuzzyFileSearchResult(
        root=CWD, path="src/main.py", match_type="file", file_name="main.py", score=9, indices=[4, 5]
    )
    return {
        "fs/changed": fs.FsChangedNotification(watch_id="w1", changed_paths=[CWD + "/src/main.py"]),
        "fuzzyFileSearch/sessionUpdated": fs.FuzzyFileSearchSessionUpdatedNotification(
            session_id="s1", query="main", files=[match]
        ),
        "fuzzyFileSearch/sessionCompleted": fs.FuzzyFileSearchSessionCompletedNotification(session_id="s1"),
    }


CLIENT_PARAMS.update(SURFACE_CLIENT_PARAMS)
CLIENT_PARAMS.update(PLUGIN_CLIENT_PARAMS)


def tools_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for the MCP server methods."""
    from agent_app_server.protocol import tools

    tool = tools.Tool(name="echo", input_schema={"type": "object"}, description="Echo")
    status = tools.McpServerStatus(
        name="echo",
        auth_status="unsupported",
        tools={"echo": tool},
        resources=[],
        resource_templates=[],
        runtime_status="connected",
        server_info=tools.McpServerInfo(name="echo", version="1.0.0"),
    )
    return {
        "mcpServerStatus/list": (
            tools.ListMcpServerStatusParams(thread_id=THREAD_ID, detail="full"),
            tools.ListMcpServerStatusResponse(data=[status]),
        ),
        "config/mcpServer/reload": (None, tools.McpServerRefreshResponse()),
        "mcpServer/resource/read": (
            tools.McpResourceReadParams(server="echo", uri="echo://greeting", thread_id=THREAD_ID),
            tools.McpResourceReadResponse(
                contents=[tools.ResourceContent(uri="echo://greeting", mime_type="text/plain", text="hello")]
            ),
        ),
        "mcpServer/tool/call": (
            tools.McpServerToolCallParams(thread_id=THREAD_ID, server="echo", tool="echo", arguments={"text": "hi"}),
            tools.McpServerToolCallResponse(content=[{"type": "text", "text": "echo: hi"}], is_error=False),
        ),
    }


def tools_notifications() -> dict[str, WireModel]:
    from agent_app_server.protocol import TerminalInteractionNotification

    return {
        "item/commandExecution/terminalInteraction": TerminalInteractionNotification(
            thread_id=THREAD_ID, turn_id=TURN_ID, item_id="call_1", process_id="4242", stdin="yes\n"
        )
    }


CLIENT_PARAMS.update(
    {
        "mcpServerStatus/list": {},
        "mcpServer/resource/read": {"server": "echo", "uri": "echo://greeting"},
        "config/mcpServer/reload": None,
        "mcpServer/tool/call": {"threadId": THREAD_ID, "server": "echo", "tool": "echo", "arguments": {"text": "hi"}},
    }
)


def server_info_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for the methods about the server itself."""
    from agent_app_server.protocol import server_info

    gateway = server_info.CustomGatewayProviderSettings(
        auth=server_info.EnvironmentVariableGatewayAuth(env_key="MOCK_API_KEY")
    )
    return {
        "modelProvider/list": (
            server_info.ModelProviderListParams(),
            server_info.ModelProviderListResponse(
                data=[
                    server_info.ModelProviderSummary(
                        id="mock", name="mock", base_url="http://127.0.0.1:9/v1", can_edit=True, settings=gateway
                    ),
                    server_info.ModelProviderSummary(
                        id="openai", name="OpenAI", can_edit=False, settings=server_info.OpenaiProviderSettings()
                    ),
                ],
                default_provider_id="mock",
                can_change_default=True,
            ),
        ),
        "modelProvider/config/write": (
            server_info.ModelProviderConfigWriteParams(
                settings=server_info.CustomGatewayProviderSettingsPatch(
                    name="Local", base_url="http://127.0.0.1:8080/v1"
                )
            ),
            server_info.ModelProviderConfigWriteResponse(
                provider=server_info.ModelProviderSummary(
                    id="local", name="Local", can_edit=True, settings=gateway, base_url="http://127.0.0.1:8080/v1"
                )
            ),
        ),
        "modelProvider/capabilities/read": (
            server_info.ModelProviderCapabilitiesReadParams(),
            server_info.ModelProviderCapabilitiesReadResponse(image_generation=False, web_search=False),
        ),
        "server/diagnostics": (
            server_info.ServerDiagnosticsParams(),
            server_info.ServerDiagnosticsResponse(
                process=server_info.ServerDiagnosticsProcess(id=4242, resident_memory_bytes=40_000_000),
                gauges=[server_info.ServerDiagnosticsGauge(name="core.threads.live", value=1)],
            ),
        ),
        "mock/experimentalMethod": (
            server_info.MockExperimentalMethodParams(value="hi"),
            server_info.MockExperimentalMethodResponse(echoed="hi"),
        ),
        "permissionProfile/list": (
            server_info.PermissionProfileListParams(limit=1),
            server_info.PermissionProfileListResponse(
                data=[server_info.PermissionProfileSummary(id=":read-only", allowed=True)], next_cursor="1"
            ),
        ),
    }


CLIENT_PARAMS.update(
    {
        "modelProvider/list": {},
        "modelProvider/config/write": {"settings": {"type": "customGateway", "providerId": "mock", "name": "Mock"}},
        "modelProvider/capabilities/read": {},
        "permissionProfile/list": {"limit": 1},
        "server/diagnostics": {},
        "mock/experimentalMethod": {"value": "hi"},
    }
)


def attachment_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for thread attachments."""
    from agent_app_server.protocol import attachments as a

    attachment = a.ThreadAttachment(
        id="01a23592-1b42-7a33-b7e7-5bdd385b4426",
        attachment_type="pullRequest",
        identity_key="github.com/o/r/pull/1",
        payload={"title": "Fix", "draft": False},
        created_at=1_796_195_097,
    )
    return {
        "thread/attachment/add": (
            a.ThreadAttachmentAddParams(
                thread_id=THREAD_ID, attachment_type="pullRequest", identity_key="github.com/o/r/pull/1", payload=[1]
            ),
            a.ThreadAttachmentAddResponse(attachment=attachment, outcome="created"),
        ),
        "thread/attachment/list": (
            a.ThreadAttachmentListParams(thread_id=THREAD_ID, limit=10),
            a.ThreadAttachmentListResponse(data=[attachment], next_cursor=attachment.id),
        ),
        "thread/attachment/remove": (
            a.ThreadAttachmentRemoveParams(thread_id=THREAD_ID, attachment_type="pullRequest", identity_key="k"),
            a.ThreadAttachmentRemoveResponse(),
        ),
        "thread/attachmentOwner/list": (
            a.ThreadAttachmentOwnerListParams(attachment_type="pullRequest", identity_key="k", archived=False),
            a.ThreadAttachmentOwnerListResponse(data=[a.ThreadAttachmentOwner(thread_id=THREAD_ID, archived=False)]),
        ),
    }


def attachment_notifications() -> dict[str, WireModel]:
    from agent_app_server.protocol.attachments import ThreadAttachmentUpdatedNotification

    return {
        "thread/attachment/updated": ThreadAttachmentUpdatedNotification(
            thread_id=THREAD_ID,
            attachment_type="pullRequest",
            identity_key="k",
            attachment_id="a1",
            operation="created",
        )
    }


CLIENT_PARAMS.update(
    {
        "thread/attachment/add": {"threadId": THREAD_ID, "attachmentType": "t", "identityKey": "k", "payload": None},
        "thread/attachment/list": {"threadId": THREAD_ID},
        "thread/attachment/remove": {"threadId": THREAD_ID, "attachmentType": "t", "identityKey": "k"},
        "thread/attachmentOwner/list": {"attachmentType": "t", "identityKey": "k", "archived": None},
    }
)


def section_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for thread sections."""
    from agent_app_server.protocol import sections as sec
    from agent_app_server.protocol.threads import ThreadSection, ThreadSectionAppearance

    work = ThreadSection(
        id="01a23592-6a3d-7b80-90e3-8559fd53211b", name="Work", appearance=ThreadSectionAppearance(color="red")
    )
    return {
        "threadSection/list": (
            sec.ThreadSectionListParams(limit=1),
            sec.ThreadSectionListResponse(data=[work], next_cursor=work.id),
        ),
        "threadSection/create": (
            sec.ThreadSectionCreateParams(name="Work", appearance=ThreadSectionAppearance(color="red")),
            sec.ThreadSectionCreateResponse(section=work),
        ),
        "threadSection/update": (
            sec.ThreadSectionUpdateParams(section_id=work.id, name="Work"),
            sec.ThreadSectionUpdateResponse(section=work),
        ),
        "threadSection/delete": (sec.ThreadSectionDeleteParams(section_id=work.id), sec.ThreadSectionDeleteResponse()),
        "thread/section/move": (
            sec.ThreadSectionMoveParams(thread_id=THREAD_ID, section_id=work.id),
            sec.ThreadSectionMoveResponse(),
        ),
    }


def section_notifications() -> dict[str, WireModel]:
    from agent_app_server.protocol.sections import ThreadSectionChangedNotification

    return {"thread/section/changed": ThreadSectionChangedNotification(thread_id=THREAD_ID, section_id=None)}


CLIENT_PARAMS.update(
    {
        "threadSection/list": {},
        "threadSection/create": {"name": "Work", "appearance": {"icon": "briefcase"}},
        "threadSection/update": {"sectionId": "s1", "name": "Work", "appearance": None},
        "threadSection/delete": {"sectionId": "s1"},
        "thread/section/move": {"threadId": THREAD_ID, "sectionId": None},
    }
)


def terminal_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for background terminals."""
    from agent_app_server.protocol import terminals as t

    terminal = t.ThreadBackgroundTerminal(
        process_id="4242", item_id="call_1", command="sleep 30", cwd=CWD, os_pid=4242, rss_kb=1024
    )
    return {
        "thread/backgroundTerminals/list": (
            t.ThreadBackgroundTerminalsListParams(thread_id=THREAD_ID, limit=10),
            t.ThreadBackgroundTerminalsListResponse(data=[terminal]),
        ),
        "thread/backgroundTerminals/terminate": (
            t.ThreadBackgroundTerminalsTerminateParams(thread_id=THREAD_ID, process_id="4242"),
            t.ThreadBackgroundTerminalsTerminateResponse(terminated=True),
        ),
        "thread/backgroundTerminals/clean": (
            t.ThreadBackgroundTerminalsCleanParams(thread_id=THREAD_ID),
            t.ThreadBackgroundTerminalsCleanResponse(),
        ),
    }


CLIENT_PARAMS.update(
    {
        "thread/backgroundTerminals/list": {"threadId": THREAD_ID},
        "thread/backgroundTerminals/terminate": {"threadId": THREAD_ID, "processId": "4242"},
        "thread/backgroundTerminals/clean": {"threadId": THREAD_ID},
    }
)


def thread_settings_samples() -> tuple[dict[str, tuple[WireModel, WireModel]], dict[str, WireModel]]:
    """Samples for thread settings: the method and its notification."""
    from agent_app_server.protocol import thread_settings as ts
    from agent_app_server.protocol.methods import CollaborationMode, Settings

    settings = ts.ThreadSettings(
        model="mock-model",
        model_provider="mock",
        cwd=CWD,
        approval_policy="on-request",
        approvals_reviewer="user",
        sandbox_policy={"type": "readOnly", "networkAccess": False},
        active_permission_profile=ts.ActivePermissionProfile(id=":read-only"),
        collaboration_mode=CollaborationMode(mode="default", settings=Settings(model="mock-model")),
    )
    method = {
        "collaborationMode/list": (
            ts.CollaborationModeListParams(),
            ts.CollaborationModeListResponse(data=[ts.CollaborationModeMask(name="Default", mode="default")]),
        ),
        "turn/settings/update": (
            ts.TurnSettingsUpdateParams(thread_id=THREAD_ID, turn_id=TURN_ID, model="faster", effort="low"),
            ts.TurnSettingsUpdateResponse(status="applied"),
        ),
        "thread/settings/update": (
            ts.ThreadSettingsUpdateParams(thread_id=THREAD_ID, model="other", effort="high"),
            ts.ThreadSettingsUpdateResponse(),
        ),
    }
    notification = {
        "thread/settings/updated": ts.ThreadSettingsUpdatedNotification(thread_id=THREAD_ID, thread_settings=settings)
    }
    return method, notification


CLIENT_PARAMS.update(
    {
        "thread/settings/update": {"threadId": THREAD_ID, "model": "other", "permissions": ":workspace"},
        "turn/settings/update": {"threadId": THREAD_ID, "turnId": TURN_ID, "summary": "concise"},
        "collaborationMode/list": {},
    }
)


def queue_samples() -> tuple[dict[str, tuple[WireModel, WireModel]], dict[str, WireModel]]:
    """Samples for thread queues: the methods and their notification."""
    from agent_app_server.protocol import queue as q

    hello = [TextUserInput(text="next, run the tests")]
    submission = q.QueuedSubmission(id="01a235bc-29e0-7851-9fd7-7296227b77d1", input=hello, client_user_message_id="c1")
    methods = {
        "thread/queue/add": (
            q.ThreadQueueAddParams(thread_id=THREAD_ID, client_user_message_id="c1", input=hello),
            q.ThreadQueueAddResponse(queued_submission=submission),
        ),
        "thread/queue/list": (
            q.ThreadQueueListParams(thread_id=THREAD_ID),
            q.ThreadQueueListResponse(data=[submission]),
        ),
        "thread/queue/update": (
            q.ThreadQueueUpdateParams(thread_id=THREAD_ID, queued_submission_id=submission.id, input=hello),
            q.ThreadQueueUpdateResponse(queued_submission=submission),
        ),
        "thread/queue/delete": (
            q.ThreadQueueDeleteParams(thread_id=THREAD_ID, queued_submission_id=submission.id),
            q.ThreadQueueDeleteResponse(deleted=True),
        ),
        "thread/queue/reorder": (
            q.ThreadQueueReorderParams(thread_id=THREAD_ID, queued_submission_ids=[submission.id]),
            q.ThreadQueueReorderResponse(),
        ),
        "thread/queue/start": (q.ThreadQueueStartParams(thread_id=THREAD_ID), q.ThreadQueueStartResponse(turn=turn())),
    }
    return methods, {"thread/queue/changed": q.ThreadQueueChangedNotification(thread_id=THREAD_ID)}


CLIENT_PARAMS.update(
    {
        "thread/queue/add": {
            "threadId": THREAD_ID,
            "clientUserMessageId": "c1",
            "input": [{"type": "text", "text": "x"}],
        },
        "thread/queue/list": {"threadId": THREAD_ID, "limit": 10},
        "thread/queue/update": {"threadId": THREAD_ID, "queuedSubmissionId": "q1", "input": []},
        "thread/queue/delete": {"threadId": THREAD_ID, "queuedSubmissionId": "q1"},
        "thread/queue/reorder": {"threadId": THREAD_ID, "queuedSubmissionIds": ["q1"]},
        "thread/queue/start": {"threadId": THREAD_ID, "queuedSubmissionId": None},
    }
)


def search_methods() -> dict[str, tuple[WireModel, WireModel]]:
    """Samples for full-text thread search."""
    from agent_app_server.protocol import thread_search as ts

    occurrence = ts.ThreadSearchOccurrence(
        turn_id=TURN_ID,
        item_id="item-1",
        snippet="... the needle ...",
        snippet_match_range=ts.ThreadSearchTextRange(start=8, end=14),
        turn_cursor="WyJ0dXJuIiwxLCJ0dXJuLTEiLDFd",
    )
    return {
        "thread/search": (
            ts.ThreadSearchParams(search_term="needle", limit=10, sort_key="recency_at", source_kinds=["cli"]),
            ts.ThreadSearchResponse(
                data=[ts.ThreadSearchResult(thread=thread(with_turns=False), snippet="the needle")],
                next_cursor="2026-12-02T12:39:15Z|" + THREAD_ID,
                backwards_cursor="2026-12-02T12:39:20Z|" + THREAD_ID,
            ),
        ),
        "thread/searchOccurrences": (
            ts.ThreadSearchOccurrencesParams(thread_id=THREAD_ID, search_term="needle", limit=5),
            ts.ThreadSearchOccurrencesResponse(data=[occurrence], next_cursor=None),
        ),
    }


def process_samples() -> tuple[dict[str, tuple[WireModel, WireModel]], dict[str, WireModel]]:
    """Samples for standalone processes: the methods and their notifications."""
    from agent_app_server.protocol import process as p

    size = p.ProcessTerminalSize(rows=24, cols=80)
    methods = {
        "process/spawn": (
            p.ProcessSpawnParams(
                command=["bash", "-i"], process_handle="term-1", cwd=CWD, tty=True, size=size, env={"TERM": "xterm"}
            ),
            p.ProcessSpawnResponse(),
        ),
        "process/writeStdin": (
            p.ProcessWriteStdinParams(process_handle="term-1", delta_base64="bHMK", close_stdin=False),
            p.ProcessWriteStdinResponse(),
        ),
        "process/kill": (p.ProcessKillParams(process_handle="term-1"), p.ProcessKillResponse()),
        "process/resizePty": (
            p.ProcessResizePtyParams(process_handle="term-1", size=size),
            p.ProcessResizePtyResponse(),
        ),
    }
    notifications = {
        "process/outputDelta": p.ProcessOutputDeltaNotification(
            process_handle="term-1", stream="stdout", delta_base64="aGkK", cap_reached=False
        ),
        "process/exited": p.ProcessExitedNotification(
            process_handle="term-1",
            exit_code=0,
            stdout="",
            stderr="",
            stdout_cap_reached=False,
            stderr_cap_reached=False,
            output_drain_timed_out=False,
        ),
    }
    return methods, notifications


CLIENT_PARAMS.update(
    {
        "thread/search": {"searchTerm": "needle"},
        "thread/searchOccurrences": {"threadId": THREAD_ID, "searchTerm": "needle", "cursor": None},
        "process/spawn": {"command": ["true"], "processHandle": "p1", "cwd": CWD, "outputBytesCap": None},
        "process/writeStdin": {"processHandle": "p1", "closeStdin": True},
        "process/kill": {"processHandle": "p1"},
        "process/resizePty": {"processHandle": "p1", "size": {"rows": 1, "cols": 1}},
    }
)


def goal_samples() -> tuple[dict[str, tuple[WireModel, WireModel]], dict[str, WireModel]]:
    """Samples for thread goals: the methods and their notifications."""
    from agent_app_server.protocol import goals as g

    goal = g.ThreadGoal(
        thread_id=THREAD_ID,
        objective="Fix the flaky test",
        status="active",
        token_budget=10_000,
        tokens_used=1_500,
        time_used_seconds=42,
        created_at=1_764_000_000,
        updated_at=1_764_000_100,
    )
    methods = {
        "thread/goal/set": (
            g.ThreadGoalSetParams(thread_id=THREAD_ID, objective=goal.objective, token_budget=10_000, origin="user"),
            g.ThreadGoalSetResponse(goal=goal),
        ),
        "thread/goal/get": (g.ThreadGoalGetParams(thread_id=THREAD_ID), g.ThreadGoalGetResponse(goal=goal)),
        "thread/goal/clear": (g.ThreadGoalClearParams(thread_id=THREAD_ID), g.ThreadGoalClearResponse(cleared=True)),
    }
    return methods, {
        "thread/goal/updated": g.ThreadGoalUpdatedNotification(thread_id=THREAD_ID, turn_id=TURN_ID, goal=goal),
        "thread/goal/cleared": g.ThreadGoalClearedNotification(thread_id=THREAD_ID),
    }


CLIENT_PARAMS.update(
    {
        "thread/goal/set": {"threadId": THREAD_ID, "status": "paused", "tokenBudget": None},
        "thread/goal/get": {"threadId": THREAD_ID},
        "thread/goal/clear": {"threadId": THREAD_ID, "origin": "automatic"},
    }
)


def usage_methods() -> dict[str, tuple[WireModel, WireModel]]:
    from agent_app_server.protocol import usage as u

    group = u.ThreadUsageBreakdownGroup(
        model="gpt-5.5",
        input_tokens=110,
        cached_input_tokens=40,
        net_new_input_tokens=70,
        output_tokens=25,
        total_tokens=135,
        estimated_usage_credits_micros=0,
    )
    return {
        "account/usage/read": (
            u.GetAccountTokenUsageParams(thread_id=THREAD_ID),
            u.GetAccountTokenUsageResponse(
                summary=u.AccountTokenUsageSummary(lifetime_tokens=135, peak_daily_tokens=135, current_streak_days=1),
                daily_usage_buckets=[u.AccountTokenUsageDailyBucket(start_date="2026-12-02", tokens=135)],
                thread_usage=u.ThreadUsage(thread_id=THREAD_ID, groups=[group], estimated_usage_credits_micros=0),
            ),
        )
    }


CLIENT_PARAMS.update({"account/usage/read": None})


def review_methods() -> dict[str, tuple[WireModel, WireModel]]:
    from agent_app_server.protocol import review as r

    denial = {
        "id": "review-1",
        "status": "denied",
        "action": {"type": "command", "source": "shell", "command": "ls", "cwd": "/"},
    }
    return {
        "review/start": (
            r.ReviewStartParams(thread_id=THREAD_ID, target=r.BaseBranchReviewTarget(type="baseBranch", branch="main")),
            r.ReviewStartResponse(turn=turn(), review_thread_id=THREAD_ID),
        ),
        "thread/approveGuardianDeniedAction": (
            r.ThreadApproveGuardianDeniedActionParams(thread_id=THREAD_ID, event=denial),
            r.ThreadApproveGuardianDeniedActionResponse(),
        ),
    }


CLIENT_PARAMS.update(
    {
        "thread/approveGuardianDeniedAction": {"threadId": THREAD_ID, "event": {"id": "x"}},
        "review/start": {
            "threadId": THREAD_ID,
            "target": {"type": "custom", "instructions": "x"},
            "delivery": "inline",
        },
    }
)


def external_agent_samples() -> tuple[dict[str, tuple[WireModel | None, WireModel]], dict[str, WireModel]]:
    """Samples for importing another agent's configuration: the methods and their notifications."""
    from agent_app_server.protocol import external_agent as e

    item = e.ExternalAgentConfigMigrationItem(
        item_type="SKILLS",
        description="Migrate skills from /home/u/.claude/skills to /home/u/.codex/skills",
        details=e.MigrationDetails(skills=[e.SkillMigration(name="greet")]),
    )
    success = e.ExternalAgentConfigImportItemTypeSuccess(item_type="SKILLS", source="greet", target="greet")
    failure = e.ExternalAgentConfigImportItemTypeFailure(
        item_type="AGENTS_MD", failure_stage="write", message="Permission denied", source="/home/u/.claude/CLAUDE.md"
    )
    result = e.ExternalAgentConfigImportTypeResult(item_type="SKILLS", successes=[success], failures=[])
    history = e.ExternalAgentConfigImportHistory(
        import_id="imp-1",
        provider_id="claude",
        completed_at_ms=1_764_000_000_000,
        successes=[success],
        failures=[failure],
    )
    methods: dict[str, tuple[WireModel | None, WireModel]] = {
        "externalAgentConfig/detect": (
            e.ExternalAgentConfigDetectParams(include_home=True, cwds=["/repo"]),
            e.ExternalAgentConfigDetectResponse(items=[item]),
        ),
        "externalAgentConfig/import": (
            e.ExternalAgentConfigImportParams(migration_items=[item], provider_id="claude"),
            e.ExternalAgentConfigImportResponse(import_id="imp-1"),
        ),
        "externalAgentConfig/import/recordHistory": (
            e.ExternalAgentConfigImportHistoryRecordParams(
                provider_id="other",
                item_type_results=[
                    e.ExternalAgentConfigImportHistoryRecordTypeResultParams(
                        item_type="SKILLS",
                        successes=[e.ExternalAgentConfigImportHistoryRecordSuccessParams(item_type="SKILLS")],
                        failures=[],
                    )
                ],
            ),
            e.ExternalAgentConfigImportHistoryRecordResponse(import_id="imp-2"),
        ),
        "externalAgentConfig/import/readHistories": (
            None,
            e.ExternalAgentConfigImportHistoriesReadResponse(data=[history], connectors=[]),
        ),
    }
    notifications: dict[str, WireModel] = {
        "externalAgentConfig/import/progress": e.ExternalAgentConfigImportProgressNotification(
            import_id="imp-1", item_type_results=[result]
        ),
        "externalAgentConfig/import/completed": e.ExternalAgentConfigImportCompletedNotification(
            import_id="imp-1", item_type_results=[result]
        ),
    }
    return methods, notifications


CLIENT_PARAMS.update(
    {
        "externalAgentConfig/detect": {"includeHome": False, "cwds": None, "maxSessions": 3},
        "externalAgentConfig/import": {"migrationItems": [], "migrationSource": None},
        "externalAgentConfig/import/recordHistory": {"providerId": "p", "itemTypeResults": []},
        "externalAgentConfig/import/readHistories": None,
    }
)


def mcp_oauth_samples() -> tuple[dict[str, tuple[WireModel, WireModel]], dict[str, WireModel]]:
    from agent_app_server.protocol import mcp_oauth as o

    login_id = "0b6f3c1e-1d2a-4c8b-9a55-8f0e4f1b2c3d"
    return {
        "mcpServer/oauth/login": (
            o.McpServerOauthLoginParams(name="docs", scopes=["mcp"], timeout_secs=120, client_registration="auto"),
            o.McpServerOauthLoginResponse(authorization_url="http://127.0.0.1:9000/authorize?x=1", login_id=login_id),
        )
    }, {
        "mcpServer/oauthLogin/completed": o.McpServerOauthLoginCompletedNotification(
            name="docs", success=False, error="timed out waiting for the authorization callback", login_id=login_id
        )
    }


CLIENT_PARAMS.update({"mcpServer/oauth/login": {"name": "docs", "scopes": None, "threadId": None}})
