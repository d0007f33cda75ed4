"""``agent-app-server exec`` end to end: a real process, the embedded server (or ``--remote``), the
fake model. Exit codes 0 / 1 / 2 / 3, ``--json``, stdin ``-``, progress on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_app_server.testing import FakeModelServer, function_call_reply, response_failed, text_reply
from support.agent_turns import exec_args
from support.cli_process import cli
from support.ws_client import Spawner


async def test_completed_prints_the_final_message(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(text_reply("The answer is 42."))
    ran = await cli(home, "exec", "--cwd", str(workspace), "what is the answer?")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == "The answer is 42.\n"
    assert "turn completed in" in ran.stderr
    user_input = model.response_requests()[0].body["input"]
    assert "what is the answer?" in json.dumps(user_input)


async def test_prompt_from_stdin(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(text_reply("read it"))
    ran = await cli(home, "exec", "--cwd", str(workspace), "-", stdin="a prompt on stdin\n")
    assert ran.code == 0 and ran.stdout == "read it\n"
    assert "a prompt on stdin" in json.dumps(model.response_requests()[0].body["input"])


async def test_json_prints_one_event_per_line(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(text_reply("one two"))
    ran = await cli(home, "exec", "--json", "--cwd", str(workspace), "go")
    assert ran.code == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    methods = [event["method"] for event in events]
    assert methods[0] == "turn/started" and methods[-1] == "turn/completed"
    assert "".join(e["params"]["delta"] for e in events if e["method"] == "item/agentMessage/delta") == "one two"
    assert events[-1]["params"]["turn"]["status"] == "completed"


async def test_a_running_command_shows_progress_on_stderr(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi"), "call_1"), text_reply("ran it"))
    ran = await cli(home, "exec", "--sandbox", "danger-full-access", "--cwd", str(workspace), "run echo")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == "ran it\n"
    lines = ran.stderr.splitlines()
    assert any(line.startswith("running: ") and "echo hi" in line for line in lines), ran.stderr
    assert any(line.startswith("ok: ") and "echo hi" in line and "(exit 0, " in line for line in lines), ran.stderr


async def test_a_failed_turn_exits_1_with_its_error(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(response_failed("context_length_exceeded", "Your input exceeds the context window of this model."))
    ran = await cli(home, "exec", "--cwd", str(workspace), "too much")
    assert ran.code == 1
    assert ran.stdout == ""
    assert "error: turn failed: " in ran.stderr
    assert 'codexErrorInfo: "contextWindowExceeded"' in ran.stderr


async def test_an_approval_nobody_can_give_exits_3_naming_the_command(
    home: Path, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("touch made.txt"), "call_1"), text_reply("x"))
    ran = await cli(home, "exec", "--approval-policy", "untrusted", "--cwd", str(workspace), "make a file")
    assert ran.code == 3, ran.stderr
    assert "an approval was needed to run `" in ran.stderr and "touch made.txt" in ran.stderr
    assert not (workspace / "made.txt").exists()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("exec", "   "), None, "the prompt is empty"),
        (("exec", "-"), "", "the prompt is empty"),
        (("exec", "--cwd", "/no/such/dir", "hi"), None, "not a directory"),
        (("exec", "--remote", "ws://127.0.0.1:9", "hi"), None, "could not connect to ws://127.0.0.1:9"),
        (("exec", "--remote", "ws://10.0.0.1:9", "--token-env", "T", "hi"), None, "empty or unset"),
        (("exec", "--approval-policy", "sometimes", "hi"), None, "invalid choice"),
    ],
)
async def test_usage_and_connection_errors_exit_2(
    home: Path, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    ran = await cli(home, *args, stdin=stdin)
    assert ran.code == 2 and message in ran.stderr, ran.stderr


async def test_remote(home: Path, model: FakeModelServer, workspace: Path, ws_spawn: Spawner) -> None:
    server = await ws_spawn()
    model.enqueue(text_reply("from afar"))
    ran = await cli(home, "exec", "--remote", server.url, "--cwd", str(workspace), "hello")
    assert ran.code == 0, ran.stderr
    assert ran.stdout == "from afar\n"
