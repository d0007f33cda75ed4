"""The handshake: initialize once, capabilities, errors before and after, start-up errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.server_process import ServerProcess


async def test_initialize_result(spawn, codex_home: Path) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    result = await server.initialize("my_ide")
    assert re.fullmatch(r"my_ide/0\.169\.0 \(agent-app-server [^;]+; [^)]*\)", result["userAgent"])
    assert result["codexHome"] == str(codex_home)
    assert result["platformFamily"] == "unix"
    assert result["platformOs"] == "linux"


@pytest.mark.compat("init:remote-control")
async def test_no_remote_control_status_after_initialize(server: ServerProcess) -> None:
    # Whatever the server sends after initialize arrives before the reply to the next request.
    await server.result("thread/loaded/list", {})
    sent = [m.get("method") for m in server.received]
    assert "remoteControl/status/changed" not in sent, sent


async def test_requests_before_initialize_are_refused(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    response = await server.call("thread/loaded/list", {})
    assert response["error"] == {"code": -32600, "message": "Not initialized"}
    await server.initialize()
    assert "result" in await server.call("thread/loaded/list", {})


async def test_initialize_twice(server: ServerProcess) -> None:
    response = await server.call("initialize", {"clientInfo": {"name": "x", "version": "1"}})
    assert response["error"] == {"code": -32600, "message": "Already initialized"}


async def test_initialize_without_client_info_names_the_field(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    response = await server.call("initialize", {"capabilities": {}})
    assert response["error"]["code"] == -32602
    assert "clientInfo" in response["error"]["message"]
    # The connection stays uninitialized and can still initialize properly.
    response = await server.call("thread/loaded/list", {})
    assert response["error"]["message"] == "Not initialized"
    await server.initialize()


async def test_clients_that_never_send_initialized_still_work(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.result("initialize", {"clientInfo": {"name": "bare", "version": "0"}})
    assert await server.result("thread/loaded/list", {}) == {"data": [], "nextCursor": None}


async def test_ids_of_every_kind_are_echoed(server: ServerProcess) -> None:
    for request_id in (0, 1, -5, "a-string", 2**63 - 1):
        response = await server.call("thread/loaded/list", {}, request_id=request_id)
        assert response["id"] == request_id and "result" in response


async def test_experimental_methods_need_the_capability(spawn, codex_home: Path) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.initialize()
    response = await server.call(
        "thread/start",
        {"approvalPolicy": {"granular": {"mcp_elicitations": True, "rules": True, "sandbox_approval": True}}},
    )
    assert response["error"] == {
        "code": -32600,
        "message": "askForApproval.granular requires experimentalApi capability",
    }


async def test_experimental_field_allowed_after_opt_in(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.initialize(experimental=True)
    policy = {"granular": {"mcp_elicitations": True, "rules": True, "sandbox_approval": True}}
    result = await server.result("thread/start", {"approvalPolicy": policy})
    assert result["approvalPolicy"]["granular"]["sandbox_approval"] is True


async def test_opt_out_suppresses_exact_notification_names(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.initialize(optOutNotificationMethods=["thread/started"])
    await server.result("thread/start", {})
    assert [n["method"] for n in await server.notifications_within()] == []


async def test_notifications_carry_emitted_at_ms(server: ServerProcess) -> None:
    await server.result("thread/start", {})
    started = await server.notification("thread/started")
    assert isinstance(started["emittedAtMs"], int) and started["emittedAtMs"] > 1_700_000_000_000


async def test_config_warnings_follow_initialize(spawn, codex_home: Path) -> None:  # type: ignore[no-untyped-def]
    (codex_home / "config.toml").write_text('model = "m"\nnot_a_real_key = 1\n')
    server: ServerProcess = await spawn()
    await server.initialize()
    warning = await server.notification("configWarning")
    assert "not_a_real_key" in warning["params"]["summary"]
    # The reply came first: the initialize response is the first message on the wire.
    assert "result" in server.received[0]


async def test_malformed_config_is_a_clear_startup_error(spawn, codex_home: Path) -> None:  # type: ignore[no-untyped-def]
    (codex_home / "config.toml").write_text('model = "m"\nmodel_provider = \n')
    server: ServerProcess = await spawn()
    code = await server.stop()
    assert code == 1
    assert b"line 2" in server.stderr and b"config.toml" in server.stderr


async def test_config_overrides_on_the_command_line(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn(
        args=("app-server", "-c", "model=from-flag", "-c", 'sandbox_mode="workspace-write"')
    )
    await server.initialize()
    result = await server.result("thread/start", {})
    assert result["model"] == "from-flag"
    assert result["sandbox"]["type"] == "workspaceWrite"
