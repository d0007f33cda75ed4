"""Each way to connect (stdio spawn, ws://, unix://, in-process) runs the same turn through the
same client API; typed methods, the generic request, and the typed JSON-RPC errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, ConnectError, RpcCallError
from agent_app_server.client.errors import RpcInvalidParams, RpcMethodNotFound
from agent_app_server.embedded import connect_embedded
from agent_app_server.protocol.methods import ThreadLoadedListResponse, ThreadStartResponse
from agent_app_server.testing import FakeModelServer, text_reply
from support.ws_client import Spawner

Connect = Callable[[], Awaitable[AsyncClient]]


async def run_one_turn(client: AsyncClient, model: FakeModelServer, cwd: Path) -> None:
    model.enqueue(text_reply("one two three"))
    thread = await client.start_thread(cwd=str(cwd))
    assert isinstance(thread.session, ThreadStartResponse)
    turn = await thread.turn("count")
    methods = [event.method async for event in turn.events()]
    assert methods[0] == "turn/started" and methods[-1] == "turn/completed"
    assert methods.count("item/agentMessage/delta") == 3
    completed = await turn.wait(check=True)
    assert completed.status == "completed" and completed.id == turn.id
    assert turn.final_message() == "one two three"
    loaded = await client.thread_loaded_list()
    assert isinstance(loaded, ThreadLoadedListResponse) and thread.id in loaded.data


async def test_in_process(home: Path, model: FakeModelServer, workspace: Path) -> None:
    async with await connect_embedded(home) as client:
        assert client.initialize_response is not None
        assert client.initialize_response.codex_home == str(home)
        await run_one_turn(client, model, workspace)


async def test_stdio_spawns_our_server_by_default(home: Path, model: FakeModelServer, workspace: Path) -> None:
    async with await AsyncClient.spawn(env={"CODEX_HOME": str(home)}) as client:
        await run_one_turn(client, model, workspace)


async def test_stdio_spawns_any_command(home: Path, model: FakeModelServer, workspace: Path) -> None:
    command = [sys.executable, "-m", "agent_app_server", "app-server"]
    async with await AsyncClient.open(command, env={"CODEX_HOME": str(home)}) as client:
        await run_one_turn(client, model, workspace)


async def test_websocket(ws_spawn: Spawner, model: FakeModelServer, workspace: Path) -> None:
    server = await ws_spawn()
    async with await AsyncClient.connect(server.url) as client:
        await run_one_turn(client, model, workspace)


async def test_unix_socket(ws_spawn: Spawner, model: FakeModelServer, workspace: Path, tmp_path: Path) -> None:
    server = await ws_spawn(args=("--listen", f"unix://{tmp_path / 'app.sock'}"))
    async with await AsyncClient.open(server.url) as client:
        await run_one_turn(client, model, workspace)


@pytest.mark.compat("rpc:standard-codes")
async def test_generic_request_and_typed_errors(embedded: AsyncClient) -> None:
    assert (await embedded.request("thread/loaded/list", {}))["data"] == []
    with pytest.raises(RpcMethodNotFound) as missing:
        await embedded.request("thread/doesNotExist", {})
    assert missing.value.code == -32601 and "thread/doesNotExist" in str(missing.value)
    with pytest.raises(RpcInvalidParams) as invalid:
        await embedded.request("thread/read", {"threadId": 5})
    assert isinstance(invalid.value, RpcCallError) and "threadId" in invalid.value.message
    with pytest.raises(TypeError, match="not both"):
        await embedded.thread_read(object(), thread_id="x")  # type: ignore[arg-type]


async def test_spawn_failure_says_what(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="could not start"):
        await AsyncClient.spawn([str(tmp_path / "no-such-server")])


async def test_a_server_that_exits_fails_pending_readers(home: Path, tmp_path: Path) -> None:
    # `true` exits at once: the handshake cannot complete and the caller learns why.
    with pytest.raises(ConnectError, match="closed the connection during initialize"):
        await AsyncClient.spawn(["true"], env={"CODEX_HOME": str(home)})


async def test_websocket_refusal_is_reported(ws_spawn: Spawner, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("sekrit")
    os.chmod(token_file, 0o600)
    server = await ws_spawn(args=("--ws-auth", "capability-token", "--ws-token-file", str(token_file)))
    with pytest.raises(ConnectError, match="HTTP 401 missing websocket bearer token"):
        await AsyncClient.connect(server.url)
    async with await AsyncClient.connect(server.url, token="sekrit") as client:
        assert (await client.thread_loaded_list()).data == []


async def test_process_stream_reads_whole_lines_in_batches() -> None:
    from agent_app_server.client.connect import ProcessStream

    stream = await ProcessStream.spawn(["sh", "-c", 'printf "one\\n\\ntwo\\nthr"; sleep 0; printf "ee\\nlast"'])
    frames: list[bytes] = []
    while (batch := await stream.receive_many()) is not None:
        frames.extend(batch)
    await stream.close()
    assert frames == [b"one", b"two", b"three", b"last"]
    assert stream.process.returncode == 0
