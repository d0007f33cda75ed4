"""Real turns against a real local model (SmolLM2-135M-Instruct), through our server over stdio.

The provider configuration is the one README.md's "Use a local model" section gives (read from
there, with the port filled in), so the README is tested too. What a 135M-parameter model writes
is not predictable: the tests check what the servers do with it (every message valid against the
schema, deltas that add up to the final message, the tool round trip, the errors' texts).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from support.local_models import REPO_ROOT, ModelServer, RecordingProxy, free_port
from support.server_process import ServerProcess

README = REPO_ROOT / "README.md"
#: Settings the tests add to the README's provider config: no approval prompts, no retries (the
#: errors must show up at once), and whatever command the model writes runs read-only.
TEST_SETTINGS = 'approval_policy = "never"\nsandbox_mode = "read-only"\n'
NO_RETRIES = "request_max_retries = 0\nstream_max_retries = 0\n"
TOOL_OUTPUT = "hello-from-the-tool"


def readme_config(label: str, base_url: str) -> str:
    """The README's config.toml block whose first line is ``# <label>``, pointed at ``base_url``."""
    blocks = re.findall(r"```toml\n(# [^\n]*\n.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    [block] = [block for block in blocks if block.splitlines()[0] == f"# {label}"]
    urls = set(re.findall(r'base_url = "([^"]+)"', block))
    assert len(urls) == 1, f"README block {label} should have one base_url"
    return block.replace(urls.pop(), base_url)


async def start_server(spawn: Any, codex_home: Path, config: str, *, retries: bool = False) -> ServerProcess:
    # Root keys go before the README's [model_providers.*] table; retry settings into that table.
    (codex_home / "config.toml").write_text(TEST_SETTINGS + config + ("" if retries else NO_RETRIES))
    server: ServerProcess = await spawn()
    await server.initialize()
    return server


async def run_turn(server: ServerProcess, text: str, *, cwd: Path | None = None) -> list[dict[str, Any]]:
    params = {"cwd": str(cwd)} if cwd else {}
    thread_id = (await server.result("thread/start", params))["thread"]["id"]
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    seen = []
    while True:
        message = await server.notification(timeout=300)
        seen.append(message)
        if message["method"] == "turn/completed":
            return seen


def streamed_text(seen: list[dict[str, Any]]) -> str:
    return "".join(n["params"]["delta"] for n in seen if n["method"] == "item/agentMessage/delta")


def assert_answer_streamed(seen: list[dict[str, Any]]) -> str:
    turn = seen[-1]["params"]["turn"]
    assert turn["status"] == "completed", turn["error"]
    [message] = [
        n["params"]["item"]
        for n in seen
        if n["method"] == "item/completed" and n["params"]["item"]["type"] == "agentMessage"
    ]
    assert message["text"].strip()
    assert streamed_text(seen) == message["text"]
    assert turn["items"] == [message]
    return str(message["text"])


async def test_text_turn_on_the_chat_wire(spawn: Any, codex_home: Path, chat_model: ModelServer) -> None:
    server = await start_server(spawn, codex_home, readme_config("llama-cpp-python", chat_model.base_url))
    seen = await run_turn(server, "Say hello in one short sentence.")
    assert_answer_streamed(seen)
    methods = [n["method"] for n in seen]
    # llama-cpp-python streams no token usage (it ignores stream_options.include_usage) and sends
    # no rate-limit headers: nothing is reported rather than zeros or an empty snapshot.
    assert "thread/tokenUsage/updated" not in methods
    assert "account/rateLimits/updated" not in methods


def force_exec_command(index: int, body: Any) -> Any:
    """The first request of the turn must call `exec_command` with the one command this test can
    check; the follow-up is left as our server sent it."""
    if index == 0:
        body["tool_choice"] = {"type": "function", "function": {"name": "exec_command"}}
        # llama-cpp-python turns a named tool_choice into a grammar over the tool's JSON schema:
        # the model writes the call, and an enum leaves it one command (left free, the 135M model
        # writes things like `--shell=echo ...`).
        for tool in body["tools"]:
            function = tool["function"]
            if function["name"] == "exec_command":
                command = {"type": "string", "enum": [f"echo {TOOL_OUTPUT}"]}
                function["parameters"] = {"type": "object", "properties": {"cmd": command}, "required": ["cmd"]}
    return body


async def test_tool_turn_round_trip(spawn: Any, codex_home: Path, tmp_path: Path, chat_model: ModelServer) -> None:
    async with RecordingProxy(chat_model.port, rewrite=force_exec_command) as proxy:
        server = await start_server(spawn, codex_home, readme_config("llama-cpp-python", proxy.base_url))
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        seen = await run_turn(
            server,
            f"Run the shell command `echo {TOOL_OUTPUT}` with exec_command, then tell me what it printed.",
            cwd=workspace,
        )
    commands = [
        n["params"]["item"]
        for n in seen
        if n["method"] == "item/completed" and n["params"]["item"]["type"] == "commandExecution"
    ]
    assert len(commands) == 1, [n["method"] for n in seen]
    command = commands[0]
    first, follow_up = proxy.exchanges[:2]
    # The model's own call (its arguments, written under the forced tool_choice) ...
    assert first.status == 200 and '"tool_calls"' in first.text
    # ... replayed with `"content": ""` and answered with the command's real output ...
    [assistant] = [m for m in follow_up.body["messages"] if m.get("tool_calls")]
    assert assistant["content"] == ""
    [tool_message] = [m for m in follow_up.body["messages"] if m["role"] == "tool"]
    assert tool_message["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert command["aggregatedOutput"] is None or command["aggregatedOutput"] in tool_message["content"]
    assert command["status"] == "completed" and command["exitCode"] == 0, command
    assert TOOL_OUTPUT in tool_message["content"]
    # ... which llama-cpp-python accepts (it answered 500 to `null`), and the final answer streams.
    assert follow_up.status == 200
    assert follow_up.body["tool_choice"] == "auto"
    assert_answer_streamed(seen)
    assert len(proxy.exchanges) == 2


async def test_interrupt_mid_answer(spawn: Any, codex_home: Path, chat_model: ModelServer) -> None:
    server = await start_server(spawn, codex_home, readme_config("llama-cpp-python", chat_model.base_url))
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    text = "Write a very long story about a lighthouse keeper, at least five paragraphs."
    turn = (await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]}))[
        "turn"
    ]
    await server.notification("item/agentMessage/delta", timeout=300)
    assert await server.result("turn/interrupt", {"threadId": thread_id, "turnId": turn["id"]}) == {}
    completed = await server.notification("turn/completed", timeout=60)
    assert completed["params"]["turn"]["status"] == "interrupted"
    # The model server is free again: the next turn is answered.
    assert_answer_streamed(await run_turn(server, "Say hi."))


async def test_provider_error_shows_the_servers_own_message(
    spawn: Any, codex_home: Path, chat_model: ModelServer
) -> None:
    # A common mistake: base_url without /v1. The server's own answer is what the user needs.
    config = readme_config("llama-cpp-python", chat_model.base_url.removesuffix("/v1"))
    server = await start_server(spawn, codex_home, config, retries=True)
    seen = await run_turn(server, "hi")
    turn = seen[-1]["params"]["turn"]
    assert turn["status"] == "failed"
    # llama-cpp-python also sends an x-request-id, which is shown too.
    assert re.fullmatch(
        rf'unexpected status 404 Not Found: {{"detail":"Not Found"}}, url: '
        rf"http://127\.0\.0\.1:{chat_model.port}/chat/completions, request id: \w+",
        turn["error"]["message"],
    ), turn["error"]["message"]
    assert turn["error"]["codexErrorInfo"] == {"httpConnectionFailed": {"httpStatusCode": 404}}
    assert not [n for n in seen if n["method"] == "error" and n["params"]["willRetry"]]


async def test_unreachable_provider_message(spawn: Any, codex_home: Path) -> None:
    # No model needed: nothing listens on this port. The text is quoted in README.md.
    url = f"http://127.0.0.1:{free_port()}/v1"
    server = await start_server(spawn, codex_home, readme_config("llama-cpp-python", url))
    seen = await run_turn(server, "hi")
    error = seen[-1]["params"]["turn"]["error"]
    assert error["message"].startswith(
        f"stream disconnected before completion: error sending request for url ({url}/chat/completions): connection refused"
    )
    assert error["codexErrorInfo"] == {"responseStreamConnectionFailed": {"httpStatusCode": None}}
    assert (
        "error sending request for url (http://127.0.0.1:PORT/v1/chat/completions): connection refused"
        in README.read_text(encoding="utf-8")
    )


async def test_llama_server_on_the_responses_wire(spawn: Any, codex_home: Path, llama_cpp_server: ModelServer) -> None:
    server = await start_server(spawn, codex_home, readme_config("llama-server", llama_cpp_server.base_url))
    seen = await run_turn(server, "Say hello in one short sentence.")
    assert_answer_streamed(seen)
    [usage] = [n["params"]["tokenUsage"]["last"] for n in seen if n["method"] == "thread/tokenUsage/updated"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0


async def test_llama_server_on_the_chat_wire(spawn: Any, codex_home: Path, llama_cpp_server: ModelServer) -> None:
    config = readme_config("llama-server", llama_cpp_server.base_url).replace(
        'wire_api = "responses"', 'wire_api = "chat"'
    )
    server = await start_server(spawn, codex_home, config)
    seen = await run_turn(server, "Say hello in one short sentence.")
    assert_answer_streamed(seen)
