"""The stdio fast start's first ``thread/start`` (``server.early_thread``): answered before the
server loads, with the bytes the handler would send, and the thread then adopted by the server
as if the handler had started it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.config import load_config
from agent_app_server.core.thread_basics import (
    IDLE,
    ClientIdentity,
    default_settings,
    new_thread_record,
    session_result,
    wire_thread,
)
from agent_app_server.protocol import AskForApproval, SandboxMode, ThreadStartParams, ThreadStartResponse
from agent_app_server.server import early_thread
from agent_app_server.server.early_thread import EarlyThread, answer_thread_start_early
from agent_app_server.server.handshake import EarlyStart, Handshake
from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import ENV, run_turn
from support.metrics_scrape import metrics_address, parse, value
from support.model_config import write_mock_config
from support.server_process import ServerProcess, Spawn
from support.ws_client import http_get

CLIENT = {"name": "sdk", "version": "1.0"}
INITIALIZED = b'{"method":"initialized"}\n'


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _start(params: Any, request_id: Any = 2) -> bytes:
    return _line({"id": request_id, "method": "thread/start", "params": params})


# ------------------------------------------------------------------ the wire forms are the models'


def _config(tmp_path: Path, toml: str = "") -> Any:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(toml)
    return load_config(home, [])


CONFIGS = [
    "",
    'sandbox_mode = "workspace-write"\n[sandbox_workspace_write]\nwritable_roots = ["/srv/a", "/srv/b"]\nnetwork_access = true\n',
    'sandbox_mode = "danger-full-access"\napproval_policy = "never"\nmodel_reasoning_effort = "high"\n',
    'model = "other-model"\nsandbox_mode = "read-only"\napproval_policy = "untrusted"\n',
]


@pytest.mark.parametrize("toml", CONFIGS)
@pytest.mark.parametrize("ephemeral", [False, True])
def test_the_answer_is_a_fixed_point_of_the_models(tmp_path: Path, toml: str, ephemeral: bool) -> None:
    # What the fast start sends without pydantic is what the handler's model dumps, byte for byte.
    config = _config(tmp_path, toml)
    settings = default_settings(config, str(tmp_path))
    record = new_thread_record(ClientIdentity("sdk"), settings)
    result = session_result(wire_thread(record, status=dict(IDLE), settings=settings, ephemeral=ephemeral), settings)
    dumped = ThreadStartResponse.model_validate(result).to_wire()
    assert json.dumps(dumped) == json.dumps(result)


def test_the_value_tables_are_the_models() -> None:
    def literals(alias: Any) -> set[str]:
        found: set[str] = set()
        for arg in typing.get_args(alias.__value__):
            if typing.get_origin(arg) is typing.Literal:
                found |= set(typing.get_args(arg))
        return found or set(typing.get_args(alias.__value__))

    assert literals(AskForApproval) == early_thread.APPROVAL_POLICIES
    assert literals(SandboxMode) == early_thread.SANDBOX_MODES
    aliases = {field.alias for field in ThreadStartParams.model_fields.values()}
    assert set(early_thread.PLAIN_PARAMS) <= aliases


# ------------------------------------------------------------------ which requests take the path


@pytest.fixture
def pipes() -> Iterator[tuple[int, int, int, int]]:
    """(client → server read end, its write end, server → client read end, its write end)."""
    inbound = os.pipe()
    outbound = os.pipe()
    yield inbound[0], inbound[1], outbound[0], outbound[1]
    for fd in (*inbound, *outbound):
        with contextlib.suppress(OSError):
            os.close(fd)


def _run(
    pipes: tuple[int, int, int, int], config: Any, lines: list[bytes], *, later: bytes = b"", **handshake: Any
) -> tuple[EarlyStart, bytes]:
    in_read, in_write, out_read, out_write = pipes
    if later:
        os.write(in_write, later)
    shake = Handshake.of("sdk", handshake, None, False)
    early = EarlyStart(shake, list(lines), eof=False)
    result = answer_thread_start_early(early, in_read, out_write, config)
    os.close(out_write)
    written = b""
    while chunk := os.read(out_read, 65536):
        written += chunk
    return result, written


TAKEN: list[Any] = [
    {},
    {"cwd": "."},
    {"cwd": None, "model": "gpt-x", "ephemeral": True},
    {"approvalPolicy": "never", "sandbox": "workspace-write"},
    {"sandbox": "danger-full-access", "approvalPolicy": None},
]
LEFT: list[Any] = [
    None,
    [],
    {"baseInstructions": "x"},
    {"approval_policy": "never"},  # snake_case: the models read it by name
    {"approvalPolicy": {"granular": {}}},
    {"approvalPolicy": "on-failure"},
    {"sandbox": "workspaceWrite"},
    {"model": "  "},
    {"ephemeral": 1},
    {"cwd": 5},
    {"dynamicTools": []},
    {"cwd": "/tmp/\ud800"},  # a lone surrogate cannot be encoded: the server answers it
]


@pytest.mark.parametrize("params", TAKEN)
def test_plain_params_are_answered_here(pipes: tuple[int, int, int, int], tmp_path: Path, params: Any) -> None:
    result, written = _run(pipes, _config(tmp_path), [INITIALIZED, _start(params)])
    assert isinstance(result.thread, EarlyThread)
    assert result.lines == [INITIALIZED]  # the notification is still the server's to read
    reply = json.loads(written)
    assert reply["id"] == 2
    assert reply["result"]["thread"]["id"] == result.thread.record.id
    assert reply["result"]["thread"]["ephemeral"] is bool(params.get("ephemeral"))
    if params.get("sandbox") == "workspace-write":
        assert reply["result"]["sandbox"]["type"] == "workspaceWrite"


@pytest.mark.parametrize("params", LEFT)
def test_anything_else_is_left_to_the_server(pipes: tuple[int, int, int, int], tmp_path: Path, params: Any) -> None:
    lines = [INITIALIZED, _start(params)]
    result, written = _run(pipes, _config(tmp_path), lines)
    assert result.thread is None and result.lines == lines and written == b""


@pytest.mark.parametrize(
    "line",
    [
        _start({}, request_id=None),
        _start({}, request_id=1.5),
        _start({}, request_id=2**63),
        _line({"id": 2, "method": "thread/start", "params": {}, "extra": 1}),
        _line({"id": 2, "method": "thread/list", "params": {}}),
        b"{not json\n",
        None,  # an overlong line, already discarded
    ],
)
def test_other_first_requests_are_left_to_the_server(
    pipes: tuple[int, int, int, int], tmp_path: Path, line: bytes | None
) -> None:
    lines = [INITIALIZED, line, _start({}, request_id=3)]
    result, written = _run(pipes, _config(tmp_path), lines)
    assert result.thread is None and result.lines == lines and written == b""


def test_a_request_written_after_the_handshake_is_waited_for(pipes: tuple[int, int, int, int], tmp_path: Path) -> None:
    result, written = _run(pipes, _config(tmp_path), [], later=INITIALIZED + _start({}, request_id="s-1"))
    assert result.thread is not None and json.loads(written)["id"] == "s-1"


def test_without_a_request_the_server_loads_after_a_moment(pipes: tuple[int, int, int, int], tmp_path: Path) -> None:
    result, written = _run(pipes, _config(tmp_path), [INITIALIZED])
    assert result.thread is None and result.lines == [INITIALIZED] and written == b""


@pytest.mark.parametrize(
    ("toml", "capabilities"),
    [
        ('unknown_key = 1\nmodel = "m"\n[features]\nno_such_feature = true\n', {}),  # warnings go first
        ('[store]\nurl = "postgresql://nowhere/db"\n', {}),  # fleet mode
        ("", {"eventReplay": True}),
        ('approval_policy = "on-failure"\n', {}),  # not a value the models accept
    ],
)
def test_connections_and_configs_the_path_does_not_serve(
    pipes: tuple[int, int, int, int], tmp_path: Path, toml: str, capabilities: dict[str, Any]
) -> None:
    config = _config(tmp_path, toml)
    if "unknown_key" in toml:
        assert config.warnings, "the sample must produce a config warning"
    lines = [INITIALIZED, _start({})]
    result, written = _run(pipes, config, lines, **capabilities)
    assert result.thread is None and result.lines == lines and written == b""


# ------------------------------------------------------------------ the real process

_VOLATILE = re.compile(rb'"(id|sessionId)":"[0-9a-f-]{36}"|"(createdAt|updatedAt|recencyAt)":\d+|"emittedAtMs":\d+')


async def _opening(server: ServerProcess, params: dict[str, Any]) -> list[bytes]:
    """initialize, initialized and thread/start as an SDK may send them; the ``thread/start`` answer
    and ``thread/started`` as sent (JSON), with ids and times blanked."""
    initialized = server.expect(1, "initialize")
    started = server.watch(lambda message: message.get("method") == "thread/started")
    answer = server.expect(2, "thread/start")
    # In one write, so that the fast start has the request in hand whatever the machine's load.
    opening = _line({"id": 1, "method": "initialize", "params": {"clientInfo": CLIENT}}) + INITIALIZED + _start(params)
    await server.send_raw(opening)
    await asyncio.wait_for(asyncio.gather(initialized, answer, started), 60)
    opening = [m for m in server.received if m.get("id") == 2 or m.get("method") == "thread/started"]
    return [_VOLATILE.sub(b"", json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode()) for m in opening]


@pytest.mark.subprocess
async def test_the_early_answer_is_the_servers(spawn: Spawn, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    early = await spawn(cwd=workspace)
    full = await spawn(cwd=workspace)
    # Every field the fast start reads, so that each is compared with the handler's reading.
    params = {"cwd": ".", "sandbox": "workspace-write", "model": "m-x", "approvalPolicy": "never", "ephemeral": True}
    early_lines = await _opening(early, params)
    # The same request with a field the fast start leaves alone (null: the same meaning).
    full_lines = await _opening(full, {**params, "baseInstructions": None})
    assert early_lines == full_lines
    assert [b'"method":"thread/started"' in line for line in early_lines] == [False, True]


@pytest.mark.subprocess
async def test_the_adopted_thread_runs_turns(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    server: ServerProcess = await spawn(env=ENV)
    initialized = server.expect(1, "initialize")
    await server.send_raw(_line({"id": 1, "method": "initialize", "params": {"clientInfo": CLIENT}}))
    await initialized
    answer = server.expect(2, "thread/start")
    listed_loaded = server.expect(3, "thread/loaded/list")
    await server.send_raw(INITIALIZED + _start({"ephemeral": False}) + _line({"id": 3, "method": "thread/loaded/list"}))
    thread_id = (await answer)["result"]["thread"]["id"]
    assert (await listed_loaded)["result"]["data"] == [thread_id]
    model.enqueue(text_reply("adopted"))
    log = await run_turn(server, thread_id, "hello")
    assert log.completed["status"] == "completed"
    assert [item["text"] for item in log.items("agentMessage")] == ["adopted"]
    listed = await server.result("thread/list", {})
    assert [thread["id"] for thread in listed["data"]] == [thread_id]


@pytest.mark.subprocess
async def test_the_process_answers_a_pipelined_thread_start_before_it_loads(codex_home: Path) -> None:
    # Counted without a duration: answered before the server (and its clock) ran.
    server = ServerProcess(codex_home, args=("--metrics-listen", "127.0.0.1:0"))
    await server.start()
    try:
        answers = [server.expect(1, "initialize"), server.expect(2, "thread/start")]
        opening = _line({"id": 1, "method": "initialize", "params": {"clientInfo": CLIENT}}) + INITIALIZED
        await server.send_raw(opening + _start({}))
        await asyncio.wait_for(asyncio.gather(*answers), 60)
        host, port = await metrics_address(server)
        assert await server.result("thread/loaded/list", {}) == {
            "data": [server.received[1]["result"]["thread"]["id"]],
            "nextCursor": None,
        }
        status, _, body = await http_get(host, port, "/metrics")
        assert status == 200
        samples = parse(body)
        assert value(samples, "requests_total", method="thread/start", outcome="ok") == 1
        assert value(samples, "request_duration_seconds_count", method="thread/start") == 0
        assert value(samples, "request_duration_seconds_count", method="thread/loaded/list") == 1
    finally:
        await server.stop()
        server.assert_schema_clean()
