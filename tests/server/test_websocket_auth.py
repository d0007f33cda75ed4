"""The WebSocket listener's HTTP side through the real server process: health routes, the Origin
refusal, the authentication matrix (security-tests.md §3, tests 11-17), start-up checks, and the
connection-lifetime JWT expiry we add. Every refusal happens before ``initialize`` is possible."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest
from websockets.exceptions import ConnectionClosed

from support.ws_client import Spawner, WsServer, ws_servers

TOKEN = "capability-token-for-tests"
SECRET = b"s" * 64
ISSUER, AUDIENCE = "test-iss", "test-aud"


@pytest.fixture
async def ws_spawn(codex_home: Path, tmp_path: Path) -> AsyncIterator[Spawner]:
    async with ws_servers(codex_home, tmp_path) as spawn:
        yield spawn


def secret_file(tmp_path: Path, name: str, data: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(mode)
    return path


async def run_cli(*args: str, home: Path, cwd: Path) -> tuple[int, str]:
    """Run the server to exit (start-up errors); returns (exit code, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CODEX_HOME": str(home)},
        cwd=cwd,
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"server with {args} did not exit (expected a start-up error)") from None
    return proc.returncode or 0, stderr.decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------- health and Origin


@pytest.mark.compat("ws:banner")
async def test_banner_names_us_and_the_real_port(ws_spawn: Spawner) -> None:
    server = await ws_spawn()  # --listen ws://127.0.0.1:0
    assert server.port != 0
    http = f"http://127.0.0.1:{server.port}"
    lines = server.stderr.splitlines()
    start = lines.index("agent-app-server (WebSockets)")
    assert lines[start + 1 : start + 5] == [
        f"  listening on: ws://127.0.0.1:{server.port}",
        f"  readyz: {http}/readyz",
        f"  healthz: {http}/healthz",
        f"  metrics: {http}/metrics",
    ]
    assert (await server.http_get("/readyz"))[0] == 200


@pytest.mark.compat("ws:health-and-origin")
async def test_health_routes_and_origin_refusal(ws_spawn: Spawner, tmp_path: Path) -> None:
    token = secret_file(tmp_path, "token", f"{TOKEN}\n".encode())
    server = await ws_spawn(args=("--ws-auth", "capability-token", "--ws-token-file", str(token)))
    for path in ("/readyz", "/healthz"):
        status, _, body = await server.http_get(path)
        assert (status, body) == (200, b"")
    for path, origin in (("/readyz", "http://evil.example"), ("/healthz", "http://localhost")):
        status, _, body = await server.http_get(path, {"Origin": origin})
        assert (status, body) == (403, b"")
    # Even a valid token does not get a browser in.
    assert await server.upgrade_status({**bearer(TOKEN), "Origin": "http://localhost"}) == (403, "")
    status, _, body = await server.http_get("/nope")
    assert (status, body) == (400, b"Connection header did not include 'upgrade'")


@pytest.mark.compat("ws:shutdown")
async def test_readyz_turns_503_once_shutdown_begins(ws_spawn: Spawner) -> None:
    server = await ws_spawn()
    # A client that never answers the closing handshake keeps the shutdown in its close phase
    # (bounded by the server's close timeout), with the listener still answering.
    stuck = await server.client()
    await stuck.initialize()
    assert stuck.ws is not None
    stuck.ws.transport.pause_reading()
    await server.signal()
    async with asyncio.timeout(20):
        while True:
            status, _, _ = await server.http_get("/readyz")
            if status == 503:
                break
            assert status == 200
            await asyncio.sleep(0.02)
    assert (await server.http_get("/healthz"))[0] == 200
    assert (await server.upgrade_status())[0] == 503
    assert await server.wait() == 0


# ---------------------------------------------------------------------- capability token


@pytest.mark.compat("ws:capability-token")
async def test_capability_token_matrix(ws_spawn: Spawner, tmp_path: Path) -> None:
    token = secret_file(tmp_path, "token", f"  {TOKEN}\n".encode())
    server = await ws_spawn(args=("--ws-auth", "capability-token", "--ws-token-file", str(token)))
    assert await server.upgrade_status() == (401, "missing websocket bearer token")
    assert await server.upgrade_status(bearer("wrong-token")) == (401, "invalid websocket bearer token")
    assert await server.upgrade_status({"Authorization": f"Basic {TOKEN}"}) == (401, "invalid authorization header")
    assert await server.upgrade_status({"Authorization": "Bearer "}) == (401, "invalid authorization header")
    assert await server.upgrade_status({"Authorization": "Bearer"}) == (401, "invalid authorization header")
    assert await server.upgrade_status({"Authorization": f"bearer {TOKEN}"}) == (101, "")
    assert await server.upgrade_status({"Authorization": f"Bearer {TOKEN} "}) == (101, "")
    assert await server.upgrade_status(bearer(TOKEN), path="/any/path") == (101, "")
    client = await server.client(token=TOKEN)
    result = await client.initialize()
    assert result["platformFamily"] == "unix"
    assert (await client.result("thread/loaded/list", {}))["data"] == []


async def test_capability_token_sha256_form(ws_spawn: Spawner) -> None:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest().upper()
    server = await ws_spawn(args=("--ws-auth", "capability-token", "--ws-token-sha256", digest))
    assert await server.upgrade_status(bearer("wrong")) == (401, "invalid websocket bearer token")
    assert await server.upgrade_status() == (401, "missing websocket bearer token")
    client = await server.client(token=TOKEN)
    await client.initialize()


# ---------------------------------------------------------------------- signed bearer (JWT)


def token_for(claims: dict[str, object], key: bytes = SECRET, algorithm: str = "HS256") -> dict[str, str]:
    return bearer(jwt.encode(claims, key, algorithm=algorithm))


@pytest.mark.compat("ws:signed-bearer")
async def test_jwt_matrix(ws_spawn: Spawner, tmp_path: Path) -> None:
    secret = secret_file(tmp_path, "secret", SECRET + b"\n")
    server = await ws_spawn(
        args=(
            "--ws-auth",
            "signed-bearer-token",
            "--ws-shared-secret-file",
            str(secret),
            "--ws-issuer",
            ISSUER,
            "--ws-audience",
            AUDIENCE,
        )
    )
    now = int(time.time())
    good = {"exp": now + 300, "iss": ISSUER, "aud": AUDIENCE}
    accepted = [good, {**good, "aud": ["other", AUDIENCE]}, {**good, "exp": now - 10}, {**good, "nbf": now + 10}]
    for claims in accepted:
        assert await server.upgrade_status(token_for(claims)) == (101, ""), claims
    refused: list[tuple[dict[str, str], str]] = [
        (token_for({**good, "exp": now - 3600}), "expired websocket jwt"),
        (token_for({**good, "exp": now - 60}), "expired websocket jwt"),
        (token_for({**good, "nbf": now + 3600}), "websocket jwt is not valid yet"),
        (token_for({"iss": ISSUER, "aud": AUDIENCE}), "invalid websocket jwt"),
        (token_for({**good, "aud": "other"}), "websocket jwt audience mismatch"),
        (token_for({"exp": now + 300, "iss": ISSUER}), "websocket jwt audience mismatch"),
        (token_for({**good, "iss": "other"}), "websocket jwt issuer mismatch"),
        (token_for(good, key=b"w" * 64), "invalid websocket jwt"),
        (token_for(good, algorithm="HS384"), "invalid websocket jwt"),
        (token_for(good, algorithm="HS512"), "invalid websocket jwt"),
        (bearer(jwt.encode(good, None, algorithm="none")), "invalid websocket jwt"),
        (bearer("not-a-jwt"), "invalid websocket jwt"),
        ({}, "missing websocket bearer token"),
    ]
    for headers, reason in refused:
        assert await server.upgrade_status(headers) == (401, reason), headers
    client = await server.client(headers=token_for(good))
    await client.initialize()


@pytest.mark.compat("ws:jwt-expiry-closes")
async def test_connection_closes_when_its_jwt_expires(ws_spawn: Spawner, tmp_path: Path) -> None:
    secret = secret_file(tmp_path, "secret", SECRET)
    server = await ws_spawn(
        args=(
            "--ws-auth",
            "signed-bearer-token",
            "--ws-shared-secret-file",
            str(secret),
            "--ws-max-clock-skew-seconds",
            "0",
        )
    )
    # Unconfigured issuer/audience are not checked.
    client = await server.client(headers=token_for({"exp": int(time.time()) + 5, "iss": "x", "aud": "y"}))
    await client.initialize()
    await client.wait_closed(within=30)
    assert client.close_code == 1008
    assert "expired" in client.close_reason


# ---------------------------------------------------------------------- start-up checks


@pytest.mark.compat("ws:secret-files")
async def test_startup_errors_use_the_reference_messages(codex_home: Path, tmp_path: Path) -> None:
    short = secret_file(tmp_path, "short", b"x" * 31)
    blank = secret_file(tmp_path, "blank", b"   \n")
    token = secret_file(tmp_path, "token", b"tok\n")
    readable = secret_file(tmp_path, "readable", b"tok\n", mode=0o644)
    missing = tmp_path / "missing"
    ws = ("--listen", "ws://127.0.0.1:0")
    cases: list[tuple[tuple[str, ...], str]] = [
        (
            ("--ws-auth", "signed-bearer-token", "--ws-shared-secret-file", str(short)),
            f"Error: signed websocket bearer secret {short} must be at least 32 bytes",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-file", str(blank)),
            f"Error: websocket auth secret {blank} must not be empty",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-file", str(missing)),
            f"Error: failed to read websocket auth secret {missing}: No such file or directory (os error 2)",
        ),
        (
            ("--ws-auth", "capability-token"),
            "Error: `--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-file", str(token), "--ws-token-sha256", "abc"),
            "Error: `--ws-token-file` and `--ws-token-sha256` are mutually exclusive",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-sha256", "abc"),
            "Error: --ws-token-sha256 must be a 64-character hex SHA-256 digest",
        ),
        (
            ("--ws-token-file", str(token)),
            "Error: websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`",
        ),
        (
            ("--ws-auth", "signed-bearer-token", "--ws-token-file", str(token)),
            "Error: `--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, "
            "not `signed-bearer-token`",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-file", str(token), "--ws-audience", "a"),
            "Error: `--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` "
            "require `--ws-auth signed-bearer-token`",
        ),
        (
            ("--ws-auth", "signed-bearer-token"),
            "Error: `--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set",
        ),
        # Ours: relative paths and secrets others can read are refused, saying how to fix them.
        (
            ("--ws-auth", "capability-token", "--ws-token-file", "token"),
            f"Error: --ws-token-file must be an absolute path, got `token`; pass `{tmp_path / 'token'}`",
        ),
        (
            ("--ws-auth", "capability-token", "--ws-token-file", str(readable)),
            f"Error: websocket auth secret {readable} is accessible by group or others (mode 0644); "
            f"restrict it with `chmod 600 {readable}`",
        ),
    ]
    results = await asyncio.gather(*(run_cli(*ws, *args, home=codex_home, cwd=tmp_path) for args, _ in cases))
    for (args, message), (code, stderr) in zip(cases, results, strict=True):
        assert code == 1, (args, stderr)
        assert stderr.startswith(message), (args, stderr)


@pytest.mark.compat("ws:non-loopback-guard")
async def test_non_loopback_listener_without_auth_refuses_before_binding(codex_home: Path, tmp_path: Path) -> None:
    # 192.0.2.1 is TEST-NET-1: never assigned here, so a bind attempt would fail differently.
    code, stderr = await run_cli("--listen", "ws://192.0.2.1:47999", home=codex_home, cwd=tmp_path)
    assert code == 1
    assert stderr.startswith(
        "Error: refusing to start non-loopback websocket listener 192.0.2.1:47999 without auth; "
        "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
    )
    # With auth the guard passes and the bind itself fails (proof it was checked before binding).
    token = secret_file(tmp_path, "token", b"tok")
    code, stderr = await run_cli(
        "--listen",
        "ws://192.0.2.1:47999",
        "--ws-auth",
        "capability-token",
        "--ws-token-file",
        str(token),
        home=codex_home,
        cwd=tmp_path,
    )
    assert code == 1 and "refusing" not in stderr and "os error 99" in stderr, stderr
    code, stderr = await run_cli("--listen", "ws://localhost:0", home=codex_home, cwd=tmp_path)
    assert code == 2 and "invalid websocket --listen URL `ws://localhost:0`; expected `ws://IP:PORT`" in stderr


@pytest.mark.compat("ws:unix-socket")
async def test_unix_listener_speaks_websocket(ws_spawn: Spawner, tmp_path: Path) -> None:
    path = tmp_path / "s" / "app-server.sock"
    server: WsServer = await ws_spawn(args=("--listen", f"unix://{path}"))
    assert server.url == f"unix://{path}"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    client = await server.client()
    await client.initialize()
    assert (await client.result("thread/loaded/list", {}))["data"] == []
    await server.stop()
    assert not path.exists()


@pytest.mark.compat("ws:frames")
async def test_binary_and_oversized_messages_close_with_a_reason(ws_spawn: Spawner) -> None:
    server = await ws_spawn()
    binary = await server.client()
    await binary.initialize()
    assert binary.ws is not None
    await binary.ws.send(b'{"id": 9, "method": "thread/loaded/list", "params": {}}')
    await binary.wait_closed()
    assert binary.close_code == 1003
    assert binary.close_reason == "binary frames are not supported; send each JSON-RPC message as one text frame"
    big = await server.client()
    await big.initialize()
    assert big.ws is not None
    with contextlib.suppress(ConnectionClosed):
        await big.ws.send(json.dumps({"id": 9, "method": "thread/loaded/list", "params": {"cursor": "x" * (17 << 20)}}))
    await big.wait_closed()
    assert big.close_code == 1009 and "exceeds limit of 16777216 bytes" in big.close_reason
    # Other connections are unaffected.
    fine = await server.client()
    await fine.initialize()
    assert (await fine.result("thread/loaded/list", {}))["data"] == []
