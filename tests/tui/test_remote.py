"""The UI against a real server process over WebSocket: approvals answered by another client,
another client's dynamic tool calls in a thread the UI shows, the approval queue, a dropped connection (reconnect, nothing lost or repeated), the server gone
for good, and the bearer-token rule of ``--remote``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.client import AsyncClient, Backoff, ClientOptions, text_input
from agent_app_server.client.handlers import COMMAND_APPROVAL, MCP_ELICITATION
from agent_app_server.testing import FakeModelServer, delay, function_call_reply, text_reply
from agent_app_server.tui.app import ConnectionWatch, Target, TuiApp
from agent_app_server.tui.cells import AnswerCell, CommandCell, ErrorCell, ToolCell
from agent_app_server.tui.screens import ApprovalScreen
from support.agent_turns import ENV, exec_args, namespaced
from support.model_config import MCP_CONFIG
from support.tcp_proxy import TcpProxy
from support.tui import Driver
from support.ws_client import Spawner, WsServer, ws_servers

FAST = Backoff(max_attempts=20, base_delay=0.01, max_delay=0.2)
RemoteApp = Callable[..., AbstractAsyncContextManager[Driver]]


@pytest.fixture
async def ws_spawn(home: Path, tmp_path: Path) -> AsyncIterator[Spawner]:
    async with ws_servers(home, tmp_path) as spawn:
        yield spawn


@pytest.fixture
async def server(ws_spawn: Spawner) -> WsServer:
    return await ws_spawn(args=("-c", "approval_policy=untrusted", "-c", "sandbox_mode=workspace-write"), env=ENV)


@pytest.fixture
def remote_app(workspace: Path) -> RemoteApp:
    @asynccontextmanager
    async def run(url: str, reconnect: Backoff = FAST) -> AsyncIterator[Driver]:
        watch = ConnectionWatch(reconnect=reconnect)
        client = await AsyncClient.connect(url, options=watch.options())
        try:
            target = Target(url, ["agent-app-server", "tui", "--remote", url])
            app = TuiApp(client, connection=watch, target=target, cwd=str(workspace))
            async with app.run_test(size=(100, 40)) as pilot:
                driver = Driver(app, pilot)
                await driver.until(lambda: app.thread_id is not None, "the thread to start")
                yield driver
        finally:
            await client.aclose()

    return run


async def test_an_approval_answered_by_another_client_closes_the_dialog(
    server: WsServer, remote_app: RemoteApp, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo elsewhere"), "call_1"), text_reply("done"))
    async with remote_app(server.url) as ui:
        await ui.send("run it")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the dialog")
        other = await AsyncClient.connect(server.url)
        try:

            async def accept(_params: Any) -> str:
                return "accept"

            other.on_command_approval(accept)
            assert ui.app.thread_id is not None
            await other.resume_thread(ui.app.thread_id)
            await ui.until(lambda: not isinstance(ui.app.screen, ApprovalScreen), "the dialog to close")
            await ui.shows("an approval was answered by another client")
            await ui.turn_done()
            command = ui.cells(CommandCell)[0]
            await ui.until(lambda: command.status == "completed", "the command")
            assert "elsewhere" in command.output
        finally:
            await other.aclose()


async def test_an_mcp_question_answered_by_another_client_closes_the_dialog(
    ws_spawn: Spawner, home: Path, remote_app: RemoteApp, model: FakeModelServer
) -> None:
    with (home / "config.toml").open("a") as config:
        config.write("\n" + MCP_CONFIG)
    server = await ws_spawn(env=ENV)
    model.enqueue(namespaced(function_call_reply("echo", '{"text": "hi"}', "call_1"), "mcp__echo"), text_reply("done"))
    async with remote_app(server.url) as ui:
        await ui.send("echo hi")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the MCP server's question")
        other = await AsyncClient.connect(server.url)
        try:

            async def allow(_params: Any) -> dict[str, Any]:
                return {"action": "accept", "content": {}}

            other.set_request_handler(MCP_ELICITATION, allow)
            assert ui.app.thread_id is not None
            await other.resume_thread(ui.app.thread_id)
            await ui.until(lambda: not isinstance(ui.app.screen, ApprovalScreen), "the dialog to close")
            await ui.shows("an approval was answered by another client")
            await ui.turn_done()
            cell = await ui.until(lambda: ui.cells(ToolCell), "the tool call")
            await ui.until(lambda: cell[0].item.get("status") == "completed", "the call to complete")
            assert "echo: hi" in str(cell[0].body.render())
        finally:
            await other.aclose()


async def test_a_dynamic_tool_call_run_by_another_client_is_shown(
    server: WsServer, remote_app: RemoteApp, model: FakeModelServer, workspace: Path
) -> None:
    lookup = {
        "type": "function",
        "name": "lookup",
        "description": "Look a thing up",
        "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    model.enqueue(function_call_reply("lookup", '{"q": "the answer"}', "call_1"), text_reply("looked it up"))
    # Dynamic tools are declared and run by a client speaking the experimental API; the UI watches.
    owner = await AsyncClient.connect(server.url, options=ClientOptions(experimental_api=True))
    try:

        async def run_tool(params: Any) -> dict[str, Any]:
            return {
                "contentItems": [{"type": "inputText", "text": f"found {params['arguments']['q']}"}],
                "success": True,
            }

        owner.set_request_handler("item/tool/call", run_tool)
        started = await owner.request("thread/start", {"cwd": str(workspace), "dynamicTools": [lookup]})
        thread_id = started["thread"]["id"]
        async with remote_app(server.url) as ui:
            await ui.send(f"/resume {thread_id}")
            await ui.until(lambda: ui.app.thread_id == thread_id, "the owner's thread")
            await owner.request("turn/start", {"threadId": thread_id, "input": [text_input("look it up")]})
            await ui.turn_done()
            cell = await ui.until(lambda: ui.cells(ToolCell), "the tool call")
            await ui.until(lambda: cell[0].item.get("status") == "completed", "the call to complete")
            shown = str(cell[0].body.render())
            assert 'lookup({"q": "the answer"})' in shown and "found the answer" in shown
            await ui.shows("looked it up")
    finally:
        await owner.aclose()


async def test_pending_approvals_queue_one_dialog_at_a_time(open_app: Any) -> None:
    async with open_app() as ui:
        ask = ui.app._approval_handler(COMMAND_APPROVAL)
        thread = ui.app.thread_id
        first = asyncio.create_task(ask({"threadId": thread, "itemId": "a", "command": "echo first", "cwd": "/"}))
        second = asyncio.create_task(ask({"threadId": thread, "itemId": "b", "command": "echo second", "cwd": "/"}))
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the first dialog")
        assert "echo first" in ui.screen_text() and "(1 more waiting)" in ui.screen_text()
        await ui.pilot.press("y")
        await ui.until(lambda: "echo second" in ui.screen_text(), "the second dialog")
        await ui.pilot.press("escape")
        assert await first == {"decision": "accept"}
        assert await second == {"decision": "cancel"}
        await ui.until(lambda: not isinstance(ui.app.screen, ApprovalScreen), "no dialog")


async def test_a_dropped_connection_reconnects_without_gaps_or_duplicates(
    server: WsServer, remote_app: RemoteApp, model: FakeModelServer
) -> None:
    words = [f"w{i} " for i in range(600)]
    script = text_reply("".join(words), deltas=words)
    model.enqueue([*script[:200], delay(0.5), *script[200:]])
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    try:
        async with remote_app(proxy.url) as ui:
            states: list[str] = []
            watch = ui.app.connection
            changed = watch.changed

            def record() -> None:
                states.append(watch.state)
                changed()

            watch.changed = record
            await ui.send("stream")
            await ui.until(lambda: ui.cells(AnswerCell) and ui.cells(AnswerCell)[0].text, "the first deltas")
            assert proxy.drop_all() == 1
            await ui.turn_done()
            answer = ui.cells(AnswerCell)[0]
            await ui.until(lambda: answer.drawn == "".join(words), "the whole answer, once")
            assert states[:2] == ["reconnecting", "connected"]
            assert "1 reconnect" in str(ui.app.footer.render())
    finally:
        await proxy.close()


async def test_the_server_gone_for_good_is_said_plainly(server: WsServer, remote_app: RemoteApp) -> None:
    async with remote_app(server.url, reconnect=Backoff(max_attempts=2, base_delay=0.01, max_delay=0.02)) as ui:
        thread_id = ui.app.thread_id
        await server.stop()
        await ui.until(lambda: ui.app.gone is not None, "the UI to notice")
        await ui.until(lambda: ui.cells(ErrorCell), "the message")
        await ui.shows("went away and did not come back")
        await ui.shows(f"agent-app-server tui --remote {server.url} --resume {thread_id}")
        assert "disconnected" in str(ui.app.footer.render())


async def test_a_token_is_never_sent_in_the_clear(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        "tui",
        "--remote",
        "ws://agents.example.com:4500",
        "--remote-auth-token-env",
        "TUI_TOKEN",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "TUI_TOKEN": "secret", "CODEX_HOME": str(tmp_path)},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"secret" not in out + err
    assert b"wss://" in err and b"agents.example.com" in err
