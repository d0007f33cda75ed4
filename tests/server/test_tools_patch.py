"""apply_patch through the real server: add / update / delete / move, bad patches, approvals,
fileChange items and the turn's cumulative diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    custom_tool_call_reply,
    function_call_reply,
    text_reply,
)
from support.agent_turns import ENV, exec_args, run_turn, start_thread, tool_outputs
from support.fake_chat import FakeChatServer, chat_text, chat_tool_call
from support.model_config import write_mock_config
from support.server_process import ServerProcess, Spawn

NOISE = ("thread/tokenUsage/updated", "account/rateLimits/updated", "item/agentMessage/delta")

ADD = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n+there\n*** End Patch"
MULTI = (
    "*** Begin Patch\n*** Update File: greet.txt\n@@\n-hello\n+hello, world\n"
    "*** Update File: old.txt\n*** Move to: sub/new.txt\n@@\n one\n-two\n+TWO\n three\n"
    "*** Delete File: gone.txt\n*** End Patch"
)
#: The reference's turn diff for ADD then MULTI (observed/NOTES.md (c), recorded against 0.169.0).
TURN_DIFF = (
    "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n"
    "index b023018cabc396e7692c70bbf5784a93d3f738ab..0000000000000000000000000000000000000000\n"
    "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n"
    "diff --git a/greet.txt b/greet.txt\n"
    "index ce013625030ba8dba906f756967f9e9ca394464a..4b5fa63702dd96796042e92787f464e28f09f17d\n"
    "--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hello, world\n"
    "diff --git a/hello.txt b/hello.txt\nnew file mode 100644\n"
    "index 0000000000000000000000000000000000000000..0e2f46c17070f62e560121bb636c0bc965086054\n"
    "--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,2 @@\n+hi\n+there\n"
    "diff --git a/old.txt b/sub/new.txt\n"
    "index 4cb29ea38f70d7c61b2a3a25b02e3bdf44905402..ddc897f039f57aa91e16efa6dfde386c4255206f\n"
    "--- a/old.txt\n+++ b/sub/new.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n"
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    (path / ".git").mkdir()  # diff paths are relative to the repository root
    (path / "greet.txt").write_text("hello\n")
    (path / "old.txt").write_text("one\ntwo\nthree\n")
    (path / "gone.txt").write_text("bye\n")
    return path


async def test_add_update_delete_move_with_items_and_turn_diff(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="on-request", sandbox="workspace-write")
    model.enqueue(
        custom_tool_call_reply("apply_patch", ADD, "call_p1"),
        custom_tool_call_reply("apply_patch", MULTI, "call_p2"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id)
    assert (workspace / "hello.txt").read_text() == "hi\nthere\n"
    assert (workspace / "greet.txt").read_text() == "hello, world\n"
    assert (workspace / "sub" / "new.txt").read_text() == "one\nTWO\nthree\n"
    assert not (workspace / "old.txt").exists() and not (workspace / "gone.txt").exists()
    assert log.requests == []  # inside the workspace, on-request does not ask

    changes = log.items("fileChange")[1]["changes"]
    assert changes == [
        {"path": str(workspace / "gone.txt"), "kind": {"type": "delete"}, "diff": "bye\n"},
        {
            "path": str(workspace / "greet.txt"),
            "kind": {"type": "update", "move_path": None},
            "diff": "@@ -1 +1 @@\n-hello\n+hello, world\n",
        },
        {
            "path": str(workspace / "old.txt"),
            "kind": {"type": "update", "move_path": str(workspace / "sub" / "new.txt")},
            "diff": f"@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n\n\nMoved to: {workspace / 'sub' / 'new.txt'}",
        },
    ]
    assert log.items("fileChange", "item/started")[0]["changes"] == [
        {"path": str(workspace / "hello.txt"), "kind": {"type": "add"}, "diff": "hi\nthere\n"}
    ]
    assert [item["status"] for item in log.items("fileChange")] == ["completed", "completed"]

    methods = log.methods(skip=NOISE)
    first = methods.index("item/completed:fileChange")
    assert methods[first + 1 : first + 4] == ["turn/diff/updated", "turn/diff/updated", "item/started:fileChange"]
    assert methods[-3:] == ["turn/diff/updated", "thread/status/changed", "turn/completed"]
    diffs = [m["params"]["diff"] for m in log.notifications if m["method"] == "turn/diff/updated"]
    assert diffs[-1] == TURN_DIFF

    outputs = tool_outputs(model.requests[2].body)
    assert outputs["call_p1"].startswith("Exit code: 0\nWall time: ")
    assert outputs["call_p1"].endswith("\nOutput:\nSuccess. Updated the following files:\nA hello.txt\n")
    assert outputs["call_p2"].endswith(
        "Success. Updated the following files:\nM greet.txt\nM sub/new.txt\nD gone.txt\n"
    )


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            "*** Begin Patch\n*** Add File: new.txt\n+x\n*** Update File: greet.txt\n@@\n-nothere\n+x\n*** End Patch",
            "apply_patch verification failed: Failed to find expected lines in {ws}/greet.txt:\nnothere",
        ),
        (
            "*** Begin Patch\n*** Add File: new.txt\n+x\n*** Frobnicate File: greet.txt\n*** End Patch",
            "apply_patch verification failed: invalid hunk at line 4, '*** Frobnicate File: greet.txt' is not a valid "
            "hunk header. Valid hunk headers: '*** Add File: {{path}}', '*** Delete File: {{path}}', "
            "'*** Update File: {{path}}'",
        ),
        (
            "*** Add File: new.txt\n+x\n*** End Patch",
            "apply_patch verification failed: invalid patch: The first line of the patch must be '*** Begin Patch'",
        ),
        (
            "*** Begin Patch\n*** Add File: new.txt\n+x\n*** Delete File: missing.txt\n*** End Patch",
            "apply_patch verification failed: Failed to delete file {ws}/missing.txt: it does not exist",
        ),
    ],
)
async def test_bad_patch_tells_the_model_and_writes_nothing(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, patch: str, message: str
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p1"), text_reply("sorry"))
    log = await run_turn(agent, thread_id)
    assert tool_outputs(model.requests[1].body)["call_p1"] == message.format(ws=workspace)
    assert not (workspace / "new.txt").exists()
    assert (workspace / "greet.txt").read_text() == "hello\n"
    assert log.items("fileChange", "item/started") == []
    assert "turn/diff/updated" not in log.methods()


async def test_untrusted_patch_approval_accept_and_decline(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(
        custom_tool_call_reply("apply_patch", ADD, "call_p1"),
        custom_tool_call_reply("apply_patch", "*** Begin Patch\n*** Delete File: greet.txt\n*** End Patch", "call_p2"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id, answer=["accept", "decline"])
    assert [r["method"] for r in log.requests] == ["item/fileChange/requestApproval"] * 2
    params = log.requests[0]["params"]
    assert params["itemId"] == "call_p1" and params["reason"] is None and params["grantRoot"] is None
    methods = log.methods(skip=NOISE)
    at = methods.index("item/started:fileChange")
    assert methods[at : at + 7] == [
        "item/started:fileChange",
        "thread/status/changed",
        "item/fileChange/requestApproval",
        "serverRequest/resolved",
        "thread/status/changed",
        "item/completed:fileChange",
        "turn/diff/updated",
    ]
    assert [item["status"] for item in log.items("fileChange")] == ["completed", "declined"]
    assert (workspace / "hello.txt").exists() and (workspace / "greet.txt").exists()
    assert tool_outputs(model.requests[2].body)["call_p2"] == "patch rejected by user"
    assert log.completed["status"] == "completed"


@pytest.mark.compat("tools:patch-in-process")
async def test_writes_outside_the_workspace_need_approval_and_never_refuses(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    patch = f"*** Begin Patch\n*** Add File: {outside}\n+x\n*** End Patch"
    git_patch = "*** Begin Patch\n*** Add File: .git/config\n+x\n*** End Patch"
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="on-request", sandbox="workspace-write")
    model.enqueue(
        custom_tool_call_reply("apply_patch", patch, "call_p1"),
        custom_tool_call_reply("apply_patch", git_patch, "call_p2"),
        text_reply("done"),
    )
    confined = {"type": "workspaceWrite", "excludeSlashTmp": True, "excludeTmpdirEnvVar": True}
    log = await run_turn(agent, thread_id, answer=["decline", "decline"], turn_params={"sandboxPolicy": confined})
    assert [r["params"]["itemId"] for r in log.requests] == ["call_p1", "call_p2"]
    assert not outside.exists() and not (workspace / ".git" / "config").exists()

    never = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p3"), text_reply("done"))
    log = await run_turn(agent, never, turn_params={"sandboxPolicy": confined})
    assert log.requests == [] and not outside.exists()
    assert tool_outputs(model.requests[-1].body)["call_p3"].startswith("patch rejected: writing outside of the project")


async def test_apply_patch_heredoc_through_exec_command(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply("exec_command", exec_args(f"apply_patch <<'EOF'\n{ADD}\nEOF\n"), "call_p1"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id)
    assert (workspace / "hello.txt").read_text() == "hi\nthere\n"
    assert log.items("fileChange")[0]["status"] == "completed"
    output = tool_outputs(model.requests[1].body)["call_p1"]
    assert output.startswith("Wall time: ") and output.endswith("Success. Updated the following files:\nA hello.txt\n")


@pytest.mark.compat("tools:catalog")
async def test_apply_patch_is_a_freeform_tool_on_responses(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace))
    model.enqueue(text_reply("hi"))
    await run_turn(agent, thread_id)
    tools = {tool["name"]: tool for tool in model.requests[0].body["tools"]}
    assert list(tools)[:5] == ["exec_command", "write_stdin", "apply_patch", "update_plan", "view_image"]
    assert tools["apply_patch"]["type"] == "custom"
    assert tools["apply_patch"]["format"]["syntax"] == "lark"
    assert tools["apply_patch"]["format"]["definition"].startswith("start: begin_patch hunk+ end_patch\n")
    assert tools["exec_command"]["parameters"]["required"] == ["cmd"]


async def test_apply_patch_is_a_function_tool_on_chat_completions(
    spawn: Spawn, codex_home: Path, workspace: Path
) -> None:
    async with FakeChatServer() as chat:
        write_mock_config(codex_home, chat.base_url, wire_api="chat")
        server = await spawn(env=ENV)
        await server.initialize()
        thread_id = await start_thread(server, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
        chat.scripts.append(chat_tool_call("apply_patch", json.dumps({"input": ADD}), "call_p1"))
        chat.scripts.append(chat_text("done"))
        await run_turn(server, thread_id)
        tools = {tool["function"]["name"]: tool for tool in chat.requests[0]["tools"]}
        assert tools["apply_patch"]["function"]["parameters"]["required"] == ["input"]
        assert (workspace / "hello.txt").read_text() == "hi\nthere\n"
        tool_messages = [m for m in chat.requests[1]["messages"] if m["role"] == "tool"]
        assert "Success. Updated the following files:\nA hello.txt" in tool_messages[0]["content"]


async def test_accept_for_session_covers_later_writes_under_the_same_directory(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    elsewhere = tmp_path / "elsewhere" / "x.txt"
    model.enqueue(
        custom_tool_call_reply("apply_patch", ADD, "call_p1"),
        custom_tool_call_reply(
            "apply_patch", "*** Begin Patch\n*** Add File: sub/second.txt\n+2\n*** End Patch", "call_p2"
        ),
        custom_tool_call_reply(
            "apply_patch", f"*** Begin Patch\n*** Add File: {elsewhere}\n+3\n*** End Patch", "call_p3"
        ),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id, answer=["acceptForSession", "decline"])
    assert [r["params"]["itemId"] for r in log.requests] == ["call_p1", "call_p3"]
    assert (workspace / "sub" / "second.txt").read_text() == "2\n" and not elsewhere.exists()
