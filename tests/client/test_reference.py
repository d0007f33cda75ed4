"""A subset of the client's tests against the pinned reference binary (``codex app-server``
0.169.0), so the client is proven on both servers: spawning it over stdio, a streamed turn,
typed results and errors, an approval through a handler, and ``command/exec``.

Skipped, with the reason, when the binary is not installed (see ``support.reference``).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient
from agent_app_server.client.errors import RpcCallError, RpcInvalidRequest
from agent_app_server.protocol.server_requests import CommandExecutionRequestApprovalParams
from agent_app_server.testing import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args
from support.model_config import write_mock_config
from support.reference import REPO_ROOT, reference_binary

BINARY, WHY_NOT = reference_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason=WHY_NOT)


@pytest.fixture
def ref_home(model: FakeModelServer) -> Iterator[Path]:
    # Not under /tmp: the reference refuses to create its helper binaries there.
    home = REPO_ROOT / ".cache" / "client-reference-homes" / uuid.uuid4().hex
    home.mkdir(parents=True)
    write_mock_config(home, model.base_url)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
async def reference(ref_home: Path) -> AsyncIterator[AsyncClient]:
    assert BINARY is not None
    client = await AsyncClient.spawn([str(BINARY), "app-server"], env={"CODEX_HOME": str(ref_home), **ENV})
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def ref_workspace(ref_home: Path) -> Path:
    path = ref_home.parent / f"{ref_home.name}-ws"
    path.mkdir()
    yield path  # type: ignore[misc]
    shutil.rmtree(path, ignore_errors=True)


async def test_a_streamed_turn(reference: AsyncClient, model: FakeModelServer, ref_workspace: Path) -> None:
    assert reference.initialize_response is not None
    assert "0.169.0" in reference.initialize_response.user_agent
    model.enqueue(text_reply("one two three"))
    thread = await reference.start_thread(cwd=str(ref_workspace))
    turn = await thread.turn("count")
    deltas = [e.params["delta"] async for e in turn.events() if e.method == "item/agentMessage/delta"]
    completed = await turn.wait(check=True)
    assert "".join(deltas) == "one two three"
    assert completed.status == "completed" and turn.final_message() == "one two three"
    loaded = await reference.thread_loaded_list()
    assert thread.id in loaded.data


@pytest.mark.compat("rpc:standard-codes")
async def test_typed_errors(reference: AsyncClient) -> None:
    # The reference rejects an unknown method as an invalid request (-32600), not -32601.
    with pytest.raises(RpcInvalidRequest, match="unknown variant `thread/doesNotExist`"):
        await reference.request("thread/doesNotExist", {})
    with pytest.raises(RpcCallError) as invalid:
        await reference.request("thread/read", {"threadId": 5})
    assert invalid.value.code in (-32600, -32602)


async def test_an_approval_through_the_handler(
    reference: AsyncClient, model: FakeModelServer, ref_workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    asked: list[CommandExecutionRequestApprovalParams] = []

    async def approve(params: CommandExecutionRequestApprovalParams) -> str:
        asked.append(params)
        return "accept"

    reference.on_command_approval(approve)
    thread = await reference.start_thread(
        cwd=str(ref_workspace), approval_policy="untrusted", sandbox="workspace-write"
    )
    completed = await thread.run("write it")
    assert completed.status == "completed"
    assert [p.item_id for p in asked] == ["call_1"]
    assert (ref_workspace / "out.txt").read_text() == "hi\n"


async def test_command_exec(reference: AsyncClient, ref_workspace: Path) -> None:
    result = await reference.command_exec(
        command=["sh", "-c", "echo out; exit 3"], cwd=str(ref_workspace), sandbox_policy={"type": "dangerFullAccess"}
    )
    assert result.exit_code == 3 and result.stdout == "out\n"
