"""The agent's tools: which ones the model is offered and how each call is answered.

Owns: the tool definitions sent with every model request (names, descriptions and argument
shapes as the reference's — see ``observed/model_requests/``), dispatching the model's calls to
unified exec, ``apply_patch``, ``update_plan``, ``view_image``, the goal tools (``core.goals``),
the client's dynamic tools and MCP servers; the per-thread tool state (session approvals, running
command sessions, the turn's diff); and the ``fileChange`` / ``imageView`` items and ``turn/plan/updated`` /
``turn/diff/updated`` notifications.

``apply_patch`` is a freeform (grammar) tool on the Responses API and a function tool taking
``{"input": patch}`` on Chat Completions, which has no freeform tools.
Layer: core.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import Config, ConfigError
from ..goals import GOAL_TOOL_NAMES, GOAL_TOOLS
from ..turns import ToolCall, ToolRouter, tool_output
from . import dynamic

if TYPE_CHECKING:
    from ..threads import EventSink, LoadedThread
    from ..turns import TurnRunner
    from .approvals import SessionApprovals
    from .exec import ExecSession, UnifiedExec
    from .mcp import McpManager
    from .turn_diff import TurnDiff

APPLY_PATCH_GRAMMAR = """start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"""

APPLY_PATCH_FREEFORM = {
    "type": "custom",
    "name": "apply_patch",
    "description": "The `apply_patch` tool can be used to edit files. This is a FREEFORM tool, so do not wrap "
    "the patch in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
}

APPLY_PATCH_FUNCTION = {
    "type": "function",
    "name": "apply_patch",
    "description": (
        "Edit files with a patch. `input` is the whole patch text:\n"
        "*** Begin Patch\n"
        "*** Add File: <path>        (then every line of the new file, each prefixed with +)\n"
        "*** Delete File: <path>\n"
        "*** Update File: <path>     (optionally followed by *** Move to: <new path>)\n"
        "@@ <a line near the change, to locate it>\n"
        " unchanged line (space prefix)\n"
        "-removed line\n"
        "+added line\n"
        "*** End Patch\n"
        "Paths are relative to the working directory. Give about three lines of unchanged context around each "
        "change so it can be found unambiguously."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The entire contents of the apply_patch command"}},
        "required": ["input"],
        "additionalProperties": False,
    },
}

EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": {"type": "string", "description": "Shell command to execute."},
            "justification": {
                "type": "string",
                "description": "User-facing approval question for `require_escalated`; omit otherwise.",
            },
            "login": {
                "type": "boolean",
                "description": "True runs the shell with -l/-i semantics; false disables them. Defaults to true.",
            },
            "max_output_tokens": {
                "type": "number",
                "description": "Output token budget. Defaults to 10000 tokens; larger requests may be capped by "
                "policy.",
            },
            "prefix_rule": {
                "type": "array",
                "description": "Reusable approval prefix for `cmd`, only with `sandbox_permissions: "
                '"require_escalated"`; for example ["git", "pull"].',
                "items": {"type": "string"},
            },
            "sandbox_permissions": {
                "type": "string",
                "description": "Per-command sandbox override. Defaults to `use_default`; use `require_escalated` for "
                "unsandboxed execution.",
                "enum": ["use_default", "require_escalated"],
            },
            "shell": {"type": "string", "description": "Shell binary to launch. Defaults to the user's default shell."},
            "tty": {
                "type": "boolean",
                "description": "True allocates a PTY for the command; false or omitted uses plain pipes.",
            },
            "workdir": {
                "type": "string",
                "description": "Working directory for the command. Defaults to the turn cwd.",
            },
            "yield_time_ms": {
                "type": "number",
                "description": "Wait before yielding output. Defaults to 10000 ms; effective range is 250-30000 ms.",
            },
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}

WRITE_STDIN = {
    "type": "function",
    "name": "write_stdin",
    "description": "Writes characters to an existing unified exec session and returns recent output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "chars": {
                "type": "string",
                "description": "Bytes to write to stdin. Defaults to empty, which polls without writing.",
            },
            "max_output_tokens": {
                "type": "number",
                "description": "Output token budget. Defaults to 10000 tokens; larger requests may be capped by "
                "policy.",
            },
            "session_id": {"type": "number", "description": "Identifier of the running unified exec session."},
            "yield_time_ms": {
                "type": "number",
                "description": "Wait before yielding output. Non-empty writes default to 250 ms and cap at 30000 ms; "
                "empty polls wait 5000-300000 ms by default.",
            },
        },
        "required": ["session_id"],
        "additionalProperties": False,
    },
}

UPDATE_PLAN = {
    "type": "function",
    "name": "update_plan",
    "description": "Updates the task plan.\nProvide an optional explanation and a list of plan items, each with a step "
    "and status.\nAt most one step can be in_progress at a time.\n",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "explanation": {"type": "string"},
            "plan": {
                "type": "array",
                "description": "The list of steps",
                "items": {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string"},
                        "status": {"type": "string", "description": "One of: pending, in_progress, completed"},
                    },
                    "required": ["step", "status"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["plan"],
        "additionalProperties": False,
    },
}

VIEW_IMAGE = {
    "type": "function",
    "name": "view_image",
    "description": "View a local image file from the filesystem when visual inspection is needed. Use this for images "
    "already available on disk.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Local filesystem path to an image file."}},
        "required": ["path"],
        "additionalProperties": False,
    },
}

_PLAN_STATUS = {"pending": "pending", "in_progress": "inProgress", "inProgress": "inProgress", "completed": "completed"}
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_HEREDOC_PATCH = re.compile(r"^\s*(?:apply_patch|applypatch)\s*<<\s*['\"]?(\w+)['\"]?\s*\n(.*)\n\1\s*$", re.DOTALL)


def _session_approvals() -> SessionApprovals:
    from .approvals import SessionApprovals

    return SessionApprovals()


@dataclass(eq=False)
class ThreadTools:
    """Tool state a thread keeps across its turns (``TurnState.tools``)."""

    approvals: SessionApprovals = field(default_factory=_session_approvals)
    sessions: dict[int, ExecSession] = field(default_factory=dict)
    turn_sessions: dict[str, set[int]] = field(default_factory=dict)
    diff: TurnDiff | None = None
    diff_turn: str | None = None


def _format_wall(seconds: float) -> str:
    text = f"{round(seconds, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _has_mcp_servers(config: Config) -> bool:
    return bool(config.values.get("mcp_servers") or config.plugin_mcp_servers)


class AgentToolRouter(ToolRouter):
    """The tools of every thread of one server."""

    def __init__(self, config: Config, *, sink: EventSink | None = None) -> None:
        self.config = config
        self._sink = sink
        self._exec: UnifiedExec | None = None
        self._mcp: McpManager | None = None
        # Only a config with MCP servers ([mcp_servers], or installed plugins') ever loads the MCP
        # module (and, later, the SDK).
        self._mcp_configured = sink is not None and _has_mcp_servers(config)

    def reconfigure(self, config: Config) -> None:
        """A reloaded configuration: MCP servers configured now are offered to threads whose
        servers start from now on."""
        self.config = config
        self._mcp_configured = self._sink is not None and _has_mcp_servers(config)
        if self._mcp is not None:
            self._mcp.reconfigure(config)

    # Built on first use so that start-up does not import what a session may never need.
    @property
    def exec(self) -> UnifiedExec:
        if self._exec is None:
            from .exec import UnifiedExec

            self._exec = UnifiedExec(read_only_paths=[str(self.config.codex_home)])
        return self._exec

    @property
    def sandbox_denials(self) -> int:
        """Agent commands whose sandboxed run looked denied, since the server started."""
        return 0 if self._exec is None else self._exec.sandbox_denials

    @property
    def mcp(self) -> McpManager | None:
        if self._mcp is None and self._sink is not None:
            from .mcp import McpManager

            self._mcp = McpManager(self.config, self._sink)
        return self._mcp

    # ------------------------------------------------------------------ background terminals

    def background_terminals(self, thread: LoadedThread) -> list[ExecSession]:
        """Commands of the thread's turns that are still running (``exec_command`` sessions)."""
        if thread.turn_state.tools is None or self._exec is None:
            return []
        return self._exec.running(self.state(thread))

    async def terminate_terminal(self, thread: LoadedThread, process_id: str) -> bool:
        if thread.turn_state.tools is None or self._exec is None or not process_id.isdigit():
            return False
        return await self._exec.terminate(self.state(thread), int(process_id))

    # ------------------------------------------------------------------ state

    @staticmethod
    def state(thread: LoadedThread) -> ThreadTools:
        turn_state = thread.turn_state
        if turn_state.tools is None:
            turn_state.tools = ThreadTools()
        return turn_state.tools

    def wire_api(self, thread: LoadedThread) -> str:
        try:
            return self.config.provider(thread.settings.model_provider).wire_api
        except ConfigError:
            return "responses"

    # ------------------------------------------------------------------ specs

    def specs(self, turn: TurnRunner) -> list[dict[str, Any]]:
        wire_api = self.wire_api(turn.thread)
        tools: list[dict[str, Any]] = [EXEC_COMMAND, WRITE_STDIN]
        tools.append(APPLY_PATCH_FUNCTION if wire_api == "chat" else APPLY_PATCH_FREEFORM)
        tools += [UPDATE_PLAN, VIEW_IMAGE]
        if not turn.thread.ephemeral:
            tools += GOAL_TOOLS
        tools += dynamic.tool_specs(turn.thread.settings.dynamic_tools, wire_api)
        if self._mcp_configured and self.mcp is not None:
            tools += self.mcp.tool_specs(turn.thread, wire_api)
        if turn.tool_names is not None:
            tools = [tool for tool in tools if tool.get("name") in turn.tool_names]
        return tools

    # ------------------------------------------------------------------ calls

    async def call(self, turn: TurnRunner, call: ToolCall) -> dict[str, Any]:
        output = await self._dispatch(turn, call)
        if isinstance(output, list):
            kind = "custom_tool_call_output" if call.is_custom else "function_call_output"
            return {"type": kind, "call_id": call.call_id, "output": output}
        return tool_output(call, output)

    async def _dispatch(self, turn: TurnRunner, call: ToolCall) -> str | list[dict[str, Any]]:
        name = call.name
        if turn.tool_names is not None and name not in turn.tool_names:
            return f"unsupported call: {name}"
        state = self.state(turn.thread)
        if call.is_custom:
            if name == "apply_patch":
                return await self.apply_patch(turn, call.call_id, str(call.item.get("input") or ""), state)
            return f"unsupported custom tool call: {name}"
        raw = call.item.get("arguments") or "{}"
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            return f"failed to parse function arguments: {exc}"
        if not isinstance(args, dict):
            return "failed to parse function arguments: expected a JSON object"
        namespace = call.item.get("namespace") if isinstance(call.item.get("namespace"), str) else None
        if namespace is None:
            if name == "exec_command":
                patch = _heredoc_patch(args.get("cmd"))
                if patch is not None:
                    started = time.monotonic()
                    result = await self._patch_with_hooks(turn, call.call_id, patch, state)
                    return f"Wall time: {time.monotonic() - started:.4f} seconds\nOutput:\n{result}"
                return await self._exec_with_hooks(turn, call.call_id, args, state)
            if name == "write_stdin":
                return await self.exec.write_stdin(turn, args, state)
            if name == "apply_patch":
                return await self._patch_with_hooks(turn, call.call_id, str(args.get("input") or ""), state)
            if name == "update_plan":
                return self.update_plan(turn, args)
            if name == "view_image":
                return await self.view_image(turn, call.call_id, args)
            if name in GOAL_TOOL_NAMES and not turn.thread.ephemeral:
                return await turn.engine.goals.tool_call(turn, name, args)
        found = dynamic.find(turn.thread.settings.dynamic_tools, name, namespace)
        if found is not None:
            return await dynamic.call_dynamic(turn, call.call_id, found[0], found[1], args)
        if self._mcp_configured and self.mcp is not None:
            target = self.mcp.find(turn.thread, name, namespace)
            if target is not None:
                mcp, (server, tool) = self.mcp, target

                async def call_tool(arguments: Any) -> str | list[dict[str, Any]]:
                    return await mcp.call_from_model(turn, call.call_id, server, tool, arguments)

                tool_name = f"mcp__{server}__{tool}"
                return await self._with_hooks(turn, call.call_id, tool_name, [], args, call_tool, tool_name)
        return f"unsupported call: {name}"

    # ------------------------------------------------------------------ hooks

    async def _exec_with_hooks(
        self, turn: TurnRunner, call_id: str, args: dict[str, Any], state: ThreadTools
    ) -> str | list[dict[str, Any]]:
        async def run(tool_input: Any) -> str | list[dict[str, Any]]:
            rewritten = tool_input.get("command") if isinstance(tool_input, dict) else None
            return await self.exec.exec_command(
                turn, call_id, {**args, "cmd": rewritten} if isinstance(rewritten, str) else args, state
            )

        command = str(args.get("cmd") or "")
        # As the reference: shell commands are ``Bash`` to hooks (the name hook scripts match on).
        return await self._with_hooks(turn, call_id, "Bash", ["exec_command"], {"command": command}, run, command)

    async def _patch_with_hooks(
        self, turn: TurnRunner, call_id: str, text: str, state: ThreadTools
    ) -> str | list[dict[str, Any]]:
        async def run(tool_input: Any) -> str | list[dict[str, Any]]:
            rewritten = tool_input.get("command") if isinstance(tool_input, dict) else None
            return await self.apply_patch(turn, call_id, rewritten if isinstance(rewritten, str) else text, state)

        return await self._with_hooks(turn, call_id, "apply_patch", ["Write", "Edit"], {"command": text}, run, text)

    async def _with_hooks(
        self,
        turn: TurnRunner,
        call_id: str,
        tool_name: str,
        aliases: list[str],
        tool_input: Any,
        run: Callable[[Any], Awaitable[str | list[dict[str, Any]]]],
        shown: str,
    ) -> str | list[dict[str, Any]]:
        """Run a tool between its ``PreToolUse`` hooks (which may block it or rewrite its input)
        and its ``PostToolUse`` hooks (which may replace what the model is told). Their context
        reaches the model just before the tool's output."""
        hooks = turn.hooks
        if hooks is None or not (hooks.wants("preToolUse") or hooks.wants("postToolUse")):
            return await run(tool_input)
        matched = [tool_name, *aliases]
        fields = {"tool_name": tool_name, "tool_input": tool_input, "tool_use_id": call_id}
        before = await hooks.run("preToolUse", fields, turn_id=turn.turn_id, matcher_inputs=matched, run_suffix=call_id)
        turn.hook_context(before.contexts)
        if before.block_reason is not None:
            return f"Command blocked by PreToolUse hook: {before.block_reason}. Command: {shown}"
        if before.updated_input is not None:
            tool_input = before.updated_input
        output = await run(tool_input)
        response = output if isinstance(output, str) else json.dumps(output)
        after = await hooks.run(
            "postToolUse",
            {"tool_name": tool_name, "tool_input": tool_input, "tool_response": response, "tool_use_id": call_id},
            turn_id=turn.turn_id,
            matcher_inputs=matched,
            run_suffix=call_id,
        )
        turn.hook_context(after.contexts)
        return after.block_reason if after.block_reason is not None else output

    # ------------------------------------------------------------------ apply_patch

    async def apply_patch(self, turn: TurnRunner, call_id: str, text: str, state: ThreadTools) -> str:
        from . import approvals
        from .patch import PatchError, changes_wire, parse_patch, plan_patch, write_plan

        started = time.monotonic()
        settings = turn.thread.settings
        try:
            plan = await asyncio.to_thread(lambda: plan_patch(parse_patch(text), settings.cwd))
        except PatchError as exc:
            return f"apply_patch verification failed: {exc}"
        item: dict[str, Any] = {
            "type": "fileChange",
            "id": call_id,
            "changes": changes_wire(plan),
            "status": "inProgress",
        }
        turn.item_started(item)
        paths = plan.paths()
        writable = await asyncio.to_thread(approvals.patch_writable, paths, settings.sandbox_policy, settings.cwd)
        need = approvals.patch_needs_approval(settings.approval_policy, writable)
        if need and state.approvals.patch_approved(paths):
            need = False
        if need is None:
            turn.item_completed(dict(item, status="declined"))
            return (
                "patch rejected: writing outside of the project; rejected by user approval settings "
                f"(approval policy {approvals.policy_kind(settings.approval_policy)} does not allow asking)"
            )
        if need:
            approvals.set_waiting(turn, True)
            decision, _ = await approvals.ask(
                turn,
                "item/fileChange/requestApproval",
                {
                    "threadId": turn.thread_id,
                    "turnId": turn.turn_id,
                    "itemId": call_id,
                    "startedAtMs": time.time_ns() // 1_000_000,
                    "reason": None,
                    "grantRoot": None,
                },
            )
            if decision in ("decline", "cancel"):
                turn.item_completed(dict(item, status="declined"))
                if decision == "cancel":
                    raise approvals.ApprovalCancelled()
                return approvals.PATCH_REJECTED
            if decision == "acceptForSession":
                state.approvals.patch_dirs.update(os.path.dirname(path) for path in paths)
        diff = self._turn_diff(turn, state)
        diff.record(plan)
        try:
            await asyncio.to_thread(write_plan, plan)
        except PatchError as exc:
            turn.item_completed(dict(item, status="failed"))
            return f"Exit code: 1\nWall time: {_format_wall(time.monotonic() - started)} seconds\nOutput:\n{exc}\n"
        turn.item_completed(dict(item, status="completed"))
        await self._emit_diff(turn, state)
        summary = "".join(line + "\n" for line in plan.summary)
        return (
            f"Exit code: 0\nWall time: {_format_wall(time.monotonic() - started)} seconds\nOutput:\n"
            f"Success. Updated the following files:\n{summary}"
        )

    def _turn_diff(self, turn: TurnRunner, state: ThreadTools) -> TurnDiff:
        if state.diff is None or state.diff_turn != turn.turn_id:
            from .turn_diff import TurnDiff

            state.diff = TurnDiff(turn.thread.settings.cwd)
            state.diff_turn = turn.turn_id
        return state.diff

    async def _emit_diff(self, turn: TurnRunner, state: ThreadTools) -> None:
        diff = state.diff if state.diff_turn == turn.turn_id else None
        if not diff:
            return
        text = await asyncio.to_thread(diff.render)
        if text:
            turn.emit("turn/diff/updated", {"threadId": turn.thread_id, "turnId": turn.turn_id, "diff": text})

    # ------------------------------------------------------------------ plan, image

    def update_plan(self, turn: TurnRunner, args: dict[str, Any]) -> str:
        raw = args.get("plan")
        if not isinstance(raw, list):
            return "failed to parse function arguments: `plan` must be a list of {step, status} objects"
        plan = []
        for entry in raw:
            if not isinstance(entry, dict) or not isinstance(entry.get("step"), str):
                return "failed to parse function arguments: every plan item needs a `step` string"
            status = _PLAN_STATUS.get(str(entry.get("status")))
            if status is None:
                return (
                    f"failed to parse function arguments: unknown status {entry.get('status')!r}; use pending, "
                    "in_progress or completed"
                )
            plan.append({"step": entry["step"], "status": status})
        explanation = args.get("explanation") if isinstance(args.get("explanation"), str) else None
        turn.emit(
            "turn/plan/updated",
            {"threadId": turn.thread_id, "turnId": turn.turn_id, "explanation": explanation, "plan": plan},
        )
        return "Plan updated"

    async def view_image(self, turn: TurnRunner, call_id: str, args: dict[str, Any]) -> str | list[dict[str, Any]]:
        raw = args.get("path")
        if not isinstance(raw, str) or not raw:
            return "failed to parse function arguments: `path` is required"
        path = _resolve(turn.thread.settings.cwd, raw)
        try:
            data = await asyncio.to_thread(_read_image, path)
        except OSError as exc:
            return f"unable to locate image at `{path}`: {exc.strerror or exc}"
        except ValueError as exc:
            return f"unable to process image at `{path}`: {exc}"
        mime = next((mime for signature, mime in _IMAGE_SIGNATURES if data.startswith(signature)), None)
        if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            mime = "image/webp"
        if mime is None:
            return "unable to process image: invalid or unsupported image data"
        item = {"type": "imageView", "id": call_id, "path": path}
        turn.item_started(item)
        turn.item_completed(dict(item))
        url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return [{"type": "input_image", "image_url": url, "detail": "original"}]

    # ------------------------------------------------------------------ turn hooks

    def thread_started(self, thread: LoadedThread) -> None:
        """A new thread: connect its MCP servers now, as the reference does."""
        if self._mcp_configured and self.mcp is not None:
            self.mcp.ensure_started(thread)

    async def prepare(self, turn: TurnRunner) -> None:
        # The model must see the MCP tools, so the first request waits for the servers to start.
        if self._mcp_configured and self.mcp is not None:
            await self.mcp.ready(turn.thread)

    async def after_round(self, turn: TurnRunner) -> None:
        # The reference repeats the cumulative diff after every model response once there is one.
        await self._emit_diff(turn, self.state(turn.thread))

    def turn_finished(self, turn: TurnRunner, status: str) -> None:
        if self._exec is None:
            return
        state = self.state(turn.thread)
        if status == "interrupted":
            asyncio.get_running_loop().create_task(self.exec.kill_turn(state, turn.turn_id))
        else:
            self.exec.forget_turn(state, turn.turn_id)

    async def aclose(self) -> None:
        if self._exec is not None:
            await self._exec.close()
        if self._mcp is not None:
            await self._mcp.aclose()


def _resolve(cwd: str, path: str) -> str:
    return os.path.normpath(os.path.join(cwd, path))


def _read_image(path: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_IMAGE_BYTES:
        raise ValueError(f"the file is {size} bytes; images up to {MAX_IMAGE_BYTES} bytes can be viewed")
    with open(path, "rb") as handle:
        return handle.read()


def _heredoc_patch(cmd: Any) -> str | None:
    """The patch of an ``apply_patch <<'EOF' … EOF`` command, which runs as the patch tool."""
    if not isinstance(cmd, str):
        return None
    match = _HEREDOC_PATCH.match(cmd.rstrip())
    return match.group(2) if match else None
