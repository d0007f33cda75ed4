"""Hooks that run (``[hooks]`` in config.toml, trusted through ``[hooks.state]``): each event's
hooks at the point the reference runs them, their ``hook/started`` / ``hook/completed`` runs, the
JSON on their stdin, and the decisions honoured — a blocked command, context for the model, a
replaced tool output, a turn that goes on after a blocked stop — with failures reported, never a
failed turn. Through the server with the fake model; the expected shapes were observed on the
reference 0.169.0 with the same hooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import exec_args, run_turn, start_agent, start_thread, tool_outputs
from support.server_process import ServerClient, Spawn


def hook(event: str, command: str, *, matcher: str | None = None, timeout: int | None = None) -> str:
    group = f"[[hooks.{event}]]\n" + (f'matcher = "{matcher}"\n' if matcher else "")
    handler = f'[[hooks.{event}.hooks]]\ntype = "command"\ncommand = {json.dumps(command)}\n'
    return group + handler + (f"timeout = {timeout}\n" if timeout is not None else "")


async def trusted_agent(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path, hooks: str
) -> ServerClient:
    """A server whose hooks the user trusted: the hashes ``hooks/list`` reports, written to
    ``[hooks.state]`` as a client that asks its user would."""
    server = await start_agent(spawn, codex_home, model, extra_config=hooks)
    listed = await server.result("hooks/list", {"cwds": [str(workspace)]})
    entries = listed["data"][0]["hooks"]
    assert entries and {entry["trustStatus"] for entry in entries} == {"untrusted"}
    state = "".join(
        f"[hooks.state.{json.dumps(entry['key'])}]\ntrusted_hash = {json.dumps(entry['currentHash'])}\n"
        for entry in entries
    )
    with (codex_home / "config.toml").open("a") as config:
        config.write("\n" + state)
    relisted = await server.result("hooks/list", {"cwds": [str(workspace)]})
    assert {entry["trustStatus"] for entry in relisted["data"][0]["hooks"]} == {"trusted"}
    return server


def runs(messages: list[dict[str, Any]], status: str = "hook/completed") -> list[dict[str, Any]]:
    return [m["params"]["run"] for m in messages if m["method"] == status]


def model_inputs(model: FakeModelServer, index: int) -> list[dict[str, Any]]:
    """The conversation a model request carried, after the instructions and environment context."""
    items: list[dict[str, Any]] = model.response_requests()[index].body["input"]
    start = max(i for i, item in enumerate(items) if "environment_context" in json.dumps(item.get("content")))
    return items[start + 1 :]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.mark.compat("hooks:run")
async def test_a_pre_tool_use_hook_blocks_the_command_and_tells_the_model_why(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    stdin_copy = tmp_path / "pre.json"
    command = f"cat > {stdin_copy}; echo 'blocked by policy' >&2; exit 2"
    server = await trusted_agent(spawn, codex_home, model, workspace, hook("PreToolUse", command, matcher="Bash"))
    thread_id = await start_thread(server, cwd=str(workspace), approvalPolicy="never", sandbox="danger-full-access")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("ok"))
    log = await run_turn(server, thread_id)

    assert log.completed["status"] == "completed"
    assert not (workspace / "out.txt").exists()
    assert not log.items("commandExecution")
    (started,) = runs(log.messages, "hook/started")
    (completed,) = runs(log.messages)
    assert started["status"] == "running" and started["entries"] == []
    assert completed["id"] == f"pre-tool-use:0:{codex_home / 'config.toml'}:call_1"
    assert (completed["eventName"], completed["scope"], completed["status"]) == ("preToolUse", "turn", "blocked")
    assert completed["entries"] == [{"kind": "feedback", "text": "blocked by policy"}]
    outputs = tool_outputs(model.response_requests()[1].body)
    assert outputs == {"call_1": "Command blocked by PreToolUse hook: blocked by policy. Command: echo hi > out.txt"}
    received = json.loads(stdin_copy.read_text())
    assert received == {
        "session_id": thread_id,
        "turn_id": log.completed["id"],
        "transcript_path": None,
        "cwd": str(workspace),
        "hook_event_name": "PreToolUse",
        "model": "mock-model",
        "permission_mode": "bypassPermissions",
        "tool_name": "Bash",
        "tool_input": {"command": "echo hi > out.txt"},
        "tool_use_id": "call_1",
    }


@pytest.mark.compat("hooks:run")
async def test_session_prompt_post_tool_and_stop_hooks_shape_what_the_model_sees(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "stopped-once"
    post = (
        'cat > /dev/null; echo \'{"decision":"block","reason":"POST-REASON",'
        '"hookSpecificOutput":{"hookEventName":"PostToolUse","additionalContext":"POST-CTX"}}\''
    )
    # Blocks the first stop only: the turn goes on once, then ends.
    stop = f'cat > /dev/null; if [ ! -e {marker} ]; then touch {marker}; echo \'{{"decision":"block","reason":"KEEP-GOING"}}\'; fi'
    hooks = (
        hook("SessionStart", "echo SESSION-CTX")
        + hook("UserPromptSubmit", "echo PROMPT-CTX")
        + hook("PostToolUse", post, matcher="Bash")
        + hook("Stop", stop)
    )
    server = await trusted_agent(spawn, codex_home, model, workspace, hooks)
    thread_id = await start_thread(server, cwd=str(workspace), approvalPolicy="never", sandbox="danger-full-access")
    model.enqueue(
        function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"),
        text_reply("done"),
        text_reply("done again"),
    )
    log = await run_turn(server, thread_id)

    assert log.completed["status"] == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    completed = runs(log.messages)
    assert [(r["eventName"], r["status"]) for r in completed] == [
        ("sessionStart", "completed"),
        ("userPromptSubmit", "completed"),
        ("postToolUse", "blocked"),
        ("stop", "blocked"),
        ("stop", "completed"),
    ]
    assert completed[0]["scope"] == "thread" and completed[0]["entries"] == [{"kind": "context", "text": "SESSION-CTX"}]
    assert completed[2]["entries"] == [
        {"kind": "context", "text": "POST-CTX"},
        {"kind": "feedback", "text": "POST-REASON"},
    ]
    (hook_prompt,) = log.items("hookPrompt")
    assert hook_prompt["fragments"] == [{"text": "KEEP-GOING", "hookRunId": completed[3]["id"]}]

    first = model_inputs(model, 0)
    assert [(i.get("role"), i["content"][0]["text"]) for i in first] == [
        ("developer", "SESSION-CTX"),
        ("user", "go"),
        ("developer", "PROMPT-CTX"),
    ]
    second = model_inputs(model, 1)
    # The hook's context comes just before the output it replaced.
    assert [(i.get("type"), i.get("output") or i["content"][0]["text"]) for i in second[-2:]] == [
        ("message", "POST-CTX"),
        ("function_call_output", "POST-REASON"),
    ]
    third = model_inputs(model, 2)
    assert third[-1]["role"] == "user"
    assert (
        third[-1]["content"][0]["text"] == f'<hook_prompt hook_run_id="{completed[3]["id"]}">KEEP-GOING</hook_prompt>'
    )


@pytest.mark.compat("hooks:run")
async def test_failing_hooks_are_reported_and_change_nothing(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path
) -> None:
    hooks = (
        hook("PreToolUse", "exit 1")
        + hook("PreToolUse", "echo '{not json'")
        + hook("PreToolUse", "exit 2")
        + hook("PreToolUse", "sleep 30", timeout=1)
        + hook("PreToolUse", "echo never", matcher="^Edit$")
    )
    server = await trusted_agent(spawn, codex_home, model, workspace, hooks)
    thread_id = await start_thread(server, cwd=str(workspace), approvalPolicy="never", sandbox="danger-full-access")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("ok"))
    log = await run_turn(server, thread_id)

    assert log.completed["status"] == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    assert [(r["status"], r["entries"]) for r in runs(log.messages)] == [
        ("failed", [{"kind": "error", "text": "hook exited with code 1"}]),
        ("failed", [{"kind": "error", "text": "hook returned invalid pre-tool-use JSON output"}]),
        (
            "failed",
            [
                {
                    "kind": "error",
                    "text": "PreToolUse hook exited with code 2 but did not write a blocking reason to stderr",
                }
            ],
        ),
        ("failed", [{"kind": "error", "text": "hook timed out after 1s"}]),
    ]


@pytest.mark.compat("hooks:run")
async def test_a_blocked_prompt_never_reaches_the_model(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path
) -> None:
    server = await trusted_agent(
        spawn, codex_home, model, workspace, hook("UserPromptSubmit", "echo 'no secrets here' >&2; exit 2")
    )
    thread_id = await start_thread(server, cwd=str(workspace))
    log = await run_turn(server, thread_id, "my password is hunter2")
    assert log.completed["status"] == "completed"
    assert [(r["status"], r["entries"]) for r in runs(log.messages)] == [
        ("blocked", [{"kind": "feedback", "text": "no secrets here"}])
    ]
    assert not log.items("userMessage") and model.response_requests() == []


@pytest.mark.compat("hooks:untrusted-not-run")
async def test_untrusted_and_modified_hooks_do_not_run(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    server = await trusted_agent(spawn, codex_home, model, workspace, hook("Stop", f"touch {marker}"))
    # The user edits the hook after trusting it: its hash changes, it no longer runs.
    config = codex_home / "config.toml"
    config.write_text(config.read_text().replace(f"touch {marker}", f"touch {marker}; true"))
    listed = await server.result("hooks/list", {"cwds": [str(workspace)]})
    assert [entry["trustStatus"] for entry in listed["data"][0]["hooks"]] == ["modified"]
    thread_id = await start_thread(server, cwd=str(workspace))
    model.enqueue(text_reply("hello"))
    log = await run_turn(server, thread_id)
    assert log.completed["status"] == "completed"
    assert runs(log.messages, "hook/started") == [] and not marker.exists()
