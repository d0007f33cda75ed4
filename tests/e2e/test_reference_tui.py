"""The reference's own terminal client, `codex --remote ws://…` 0.169.0, against our WebSocket
listener: it connects, streams an answer, shows a command approval that a key accepts, and renders
the command's output.

The TUI runs in a private tmux server (its own socket in the test's directory) with a fixed
200 by 50 pane; the test types into it with ``send-keys`` and reads it with ``capture-pane``, waiting
for what it expects to appear (bounded). The model is the fake Responses server behind our server;
the TUI's own CODEX_HOME only holds its settings (remote mode never calls a model itself).

Onboarding: the TUI asks nothing on first start in remote mode (the account comes from our
server, which needs no login for the `mock` provider); the project is marked trusted and the
screen-reader notice as done in its config.toml so no first-run screen can come up either.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    RecordedRequest,
    Script,
    function_call_reply,
    text_reply,
)
from support.agent_turns import exec_args, tool_outputs
from support.model_config import write_mock_config
from support.reference import reference_binary
from support.ws_client import WsServer

ENV = {"MOCK_API_KEY": "test-key"}
ANSWER = "Streamed answer from the fake model."
COMMAND = "echo tui-approved-output"
AFTER_COMMAND = "The command ran fine."
#: How long the TUI may take to show something (it starts in well under a second when idle).
WITHIN = 60.0


def _last_user_text(request: RecordedRequest) -> str:
    for item in reversed(request.body.get("input", [])):
        if item.get("type") == "message" and item.get("role") == "user":
            return " ".join(part.get("text", "") for part in item.get("content", []))
    return ""


def _model(request: RecordedRequest) -> Script:
    """Answers by what the request asks, not by arrival order: the TUI also starts a thread of
    its own to name the conversation, whose request may come at any point."""
    if tool_outputs(request.body):
        return text_reply(AFTER_COMMAND)
    prompt = _last_user_text(request)
    if prompt.endswith("run the command"):
        return function_call_reply("exec_command", exec_args(COMMAND), "call_tui")
    if prompt.endswith("say hello"):
        return text_reply(ANSWER, reasoning_summary="Greeting the user.")
    return text_reply("Greeting")  # the conversation title


@dataclass
class Pane:
    """The one pane of a private tmux server; it stays on screen after the TUI exits."""

    socket: Path
    stderr: Path

    async def tmux(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            "tmux",
            "-S",
            str(self.socket),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert process.returncode == 0, f"tmux {' '.join(args)}: {err.decode(errors='replace')}"
        return out.decode(errors="replace")

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "tui")

    async def wait_for(self, *texts: str, within: float = WITHIN) -> str:
        """The screen once it shows every one of ``texts``; fails with the last screen if it does not."""
        screen, exited = "", ""
        try:
            async with asyncio.timeout(within):
                while not exited:
                    screen = await self.screen()
                    if all(text in screen for text in texts):
                        return screen
                    dead = "#{?pane_dead,exit status #{pane_dead_status},}"
                    exited = (await self.tmux("display-message", "-p", "-t", "tui", dead)).strip()
                    await asyncio.sleep(0.1)
        except TimeoutError:
            exited = ""
        ending = f"the TUI exited ({exited})" if exited else f"not within {within} s"
        raise AssertionError(
            f"the TUI did not show {texts}: {ending}; its screen:\n{screen}\nits stderr:\n{self.stderr.read_text()}"
        )

    async def type(self, text: str) -> None:
        # The TUI treats a burst of keys ending in Enter as a paste (Enter becomes a newline): the
        # text goes in literally first, Enter once the text is on screen.
        await self.tmux("send-keys", "-t", "tui", "-l", text)
        await self.wait_for(f"› {text}")
        await self.tmux("send-keys", "-t", "tui", "Enter")

    async def key(self, key: str) -> None:
        await self.tmux("send-keys", "-t", "tui", key)


@pytest.fixture
def codex() -> Path:
    binary, reason = reference_binary()
    if binary is None:
        pytest.skip(f"the reference TUI is not available: {reason}")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed, so the reference TUI cannot be driven (apt-get install tmux)")
    return binary


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer(default_script=_model) as server:
        yield server


@pytest.fixture
async def server(tmp_path: Path, model: FakeModelServer) -> AsyncIterator[WsServer]:
    home = tmp_path / "server-home"
    home.mkdir()
    write_mock_config(home, model.base_url, extra='approval_policy = "untrusted"\nsandbox_mode = "workspace-write"')
    server = WsServer(home, tmp_path, env=ENV)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def tui(tmp_path: Path, codex: Path, server: WsServer) -> AsyncIterator[Pane]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    home = tmp_path / "tui-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"[projects.{json.dumps(str(workspace))}]\n"
        'trust_level = "trusted"\n'
        "[tui]\n"
        "screen_reader_detection_done = true\n"
    )
    pane = Pane(tmp_path / "tmux.sock", tmp_path / "tui.stderr")
    command = f"{shlex.quote(str(codex))} --remote {server.url} 2>{shlex.quote(str(pane.stderr))}"
    await pane.tmux(
        "-f",
        "/dev/null",
        "set-option",
        "-g",
        "remain-on-exit",
        "on",
        ";",
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "200",
        "-y",
        "50",
        "-c",
        str(workspace),
        "-e",
        f"CODEX_HOME={home}",
        command,
    )
    try:
        yield pane
    finally:
        await pane.tmux("kill-server")


@pytest.mark.compat("tui:reference-client")
async def test_the_reference_tui_streams_an_answer_and_runs_an_approved_command(
    tui: Pane, model: FakeModelServer
) -> None:
    await tui.wait_for("OpenAI Codex (v0.169.0)", "Ask Codex to do anything")

    await tui.type("say hello")
    await tui.wait_for(ANSWER)

    await tui.type("run the command")
    await tui.wait_for("Would you like to run the following command?", f"$ {COMMAND}", "Yes, proceed (y)")
    await tui.key("y")
    screen = await tui.wait_for(f"Ran {COMMAND}", "└ tui-approved-output", AFTER_COMMAND)
    assert "You approved codex to run" in screen

    # The command really ran on our side, and its output went back to the model.
    outputs = [tool_outputs(r.body).get("call_tui") for r in model.response_requests()]
    assert any(output and "tui-approved-output" in output for output in outputs)
