"""The enforced sandbox's filesystem rules, through ``command/exec`` of the real server
(security-tests.md §5 cases 1, 2, 3 and 6): real bubblewrap, real writes, checked on the host.

Workspaces live under /var/tmp, not /tmp: /tmp is itself a writable root by default.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.server_process import ServerProcess, Spawn

TMP = Path("/tmp")
ETC = Path("/etc")
HOSTNAME = ETC / "hostname"

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (scripts/dev.sh)")


@pytest.fixture
def area() -> Iterator[Path]:
    """A scratch directory outside /tmp with a workspace (holding a .git) and a sibling."""
    root = Path(tempfile.mkdtemp(prefix="sbx-", dir="/var/tmp"))
    (root / "ws" / ".git").mkdir(parents=True)
    (root / "ws" / ".git" / "config").write_text("[core]\n")
    (root / "outside").mkdir()
    (root / "extra").mkdir()
    (root / "tmpdir").mkdir()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def exec_sh(server: ServerProcess, script: str, policy: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"command": ["/bin/sh", "-c", script]}
    if policy is not None:
        params["sandboxPolicy"] = policy
    result: dict[str, Any] = await server.result("command/exec", params, timeout=60)
    return result


def attempts(*targets: str) -> str:
    """Try to write each target; print ``ok <t>`` or ``denied <t>`` and always exit 0."""
    return "; ".join(f"if echo data > {t} 2>/dev/null; then echo ok {t}; else echo denied {t}; fi" for t in targets)


async def start(spawn: Spawn, area: Path) -> ServerProcess:
    server = await spawn(cwd=area / "ws", env={"TMPDIR": str(area / "tmpdir")})
    await server.initialize()
    return server


async def test_read_only_denies_every_write_and_allows_reads(spawn: Spawn, area: Path) -> None:
    server = await start(spawn, area)
    tag = uuid.uuid4().hex
    tmp_target, etc_target = TMP / f"sbx-{tag}", ETC / f"sbx-{tag}"
    result = await exec_sh(
        server, f"echo data > x; echo data > {tmp_target}; echo data > {etc_target}", {"type": "readOnly"}
    )
    assert result["exitCode"] != 0
    assert "Read-only file system" in result["stderr"]
    assert not (area / "ws" / "x").exists()
    assert not tmp_target.exists()
    assert not etc_target.exists()

    reads = await exec_sh(server, "cat /etc/hostname && grep Seccomp: /proc/self/status", {"type": "readOnly"})
    assert reads["exitCode"] == 0
    assert reads["stdout"].startswith(HOSTNAME.read_text())
    assert "Seccomp:\t2" in reads["stdout"]


async def test_config_sandbox_mode_applies_when_the_request_has_none(spawn: Spawn, area: Path) -> None:
    server = await start(spawn, area)  # default sandbox_mode: read-only
    result = await exec_sh(server, attempts("x"), None)
    assert result["stdout"] == "denied x\n"
    assert not (area / "ws" / "x").exists()


async def test_workspace_write_defaults(spawn: Spawn, area: Path) -> None:
    server = await start(spawn, area)
    tag = uuid.uuid4().hex
    tmp_target = TMP / f"sbx-{tag}"
    ws = area / "ws"
    try:
        result = await exec_sh(
            server,
            attempts("x", str(tmp_target), str(area / "outside" / "x"), ".git/config", ".codex/x")
            + "; mkdir .codex 2>/dev/null && echo made .codex || echo no .codex",
            {"type": "workspaceWrite"},
        )
        assert result["stdout"].splitlines() == [
            "ok x",
            f"ok {tmp_target}",
            f"denied {area / 'outside' / 'x'}",
            "denied .git/config",
            "denied .codex/x",
            "no .codex",
        ]
        assert (ws / "x").read_text() == "data\n"
        assert tmp_target.read_text() == "data\n"
        assert not (area / "outside" / "x").exists()
        assert (ws / ".git" / "config").read_text() == "[core]\n"
        # The placeholders that kept .codex/.agents/.aws read-only are gone from the host.
        assert sorted(p.name for p in ws.iterdir()) == [".git", "x"]
    finally:
        tmp_target.unlink(missing_ok=True)


@pytest.mark.compat("exec:codex-home-read-only")
async def test_codex_home_stays_read_only_inside_a_writable_root(spawn: Spawn, area: Path, codex_home: Path) -> None:
    server = await start(spawn, area)
    # The test's CODEX_HOME lies under /tmp, which workspaceWrite makes writable.
    config = codex_home / "config.toml"
    beside = codex_home.parent / f"beside-{uuid.uuid4().hex}"
    result = await exec_sh(server, attempts(str(config), str(beside)), {"type": "workspaceWrite"})
    assert result["stdout"].splitlines() == [f"denied {config}", f"ok {beside}"]
    assert not config.exists() and beside.read_text() == "data\n"


@pytest.mark.compat("exec:missing-program")
async def test_a_missing_program_exits_127_as_in_a_shell(spawn: Spawn, area: Path) -> None:
    server = await start(spawn, area)
    program = f"no-such-program-{uuid.uuid4().hex[:8]}"
    sandboxed = await server.result("command/exec", {"command": [program], "sandboxPolicy": {"type": "readOnly"}})
    assert sandboxed == {"exitCode": 127, "stdout": "", "stderr": f"sandbox: {program}: No such file or directory\n"}
    # Unsandboxed there is no helper to report it: the spawn itself fails, as in the reference.
    plain = await server.call("command/exec", {"command": [program], "sandboxPolicy": {"type": "dangerFullAccess"}})
    assert plain["error"]["code"] == -32603 and plain["error"]["message"].startswith("failed to spawn command")


async def test_exclusions_and_extra_roots(spawn: Spawn, area: Path) -> None:
    server = await start(spawn, area)
    tag = uuid.uuid4().hex
    tmp_target = TMP / f"sbx-{tag}"
    policy = {
        "type": "workspaceWrite",
        "writableRoots": [str(area / "extra")],
        "excludeSlashTmp": True,
        "excludeTmpdirEnvVar": True,
    }
    result = await exec_sh(
        server,
        attempts(str(area / "extra" / "x"), str(tmp_target), '"$TMPDIR/x"', "x", str(area / "extra" / ".git/x")),
        policy,
    )
    assert result["stdout"].splitlines() == [
        f"ok {area / 'extra' / 'x'}",
        f"denied {tmp_target}",
        f"denied {area / 'tmpdir' / 'x'}",
        "ok x",
        f"denied {area / 'extra' / '.git/x'}",
    ]
    assert (area / "extra" / "x").exists()
    assert not tmp_target.exists()
    assert not (area / "tmpdir" / "x").exists()
    assert not (area / "extra" / ".git").exists()

    # Without the exclusion $TMPDIR is a writable root.
    allowed = await exec_sh(server, attempts('"$TMPDIR/y"'), {"type": "workspaceWrite", "excludeSlashTmp": True})
    assert allowed["stdout"] == f"ok {area / 'tmpdir' / 'y'}\n"
    assert (area / "tmpdir" / "y").exists()


@pytest.mark.parametrize(
    "policy", [{"type": "dangerFullAccess"}, {"type": "externalSandbox", "networkAccess": "restricted"}]
)
async def test_unsandboxed_policies_have_no_seccomp_and_write_anywhere(
    spawn: Spawn, area: Path, policy: dict[str, Any]
) -> None:
    server = await start(spawn, area)
    target = area / "outside" / "free"
    result = await exec_sh(server, f"grep Seccomp: /proc/self/status; {attempts(str(target))}", policy)
    assert result["stdout"] == f"Seccomp:\t0\nok {target}\n"
    assert target.read_text() == "data\n"
