"""When the preferred sandbox cannot be built: the Landlock fallback, and failing closed
(security-tests.md §5 case 7). The real server runs under a seccomp wrapper that blocks user
namespaces (and, for fail-closed, Landlock) for its whole process tree, with bwrap hidden from
PATH — the sandbox is really unavailable, nothing is simulated inside the server.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core import sandbox
from agent_app_server.core.sandbox import seccomp_exec
from support.server_process import ServerProcess

WRAPPER = """
import os, sys
sys.path.insert(0, {helper_dir!r})
import seccomp_exec as s

arch = s.machine()
nr = s.SYSCALLS[arch]
CLONE_NEWUSER = 0x10000000
ENOSYS, EPERM = 38, 1
prog = [
    s.Insn(s.BPF_LD_W_ABS, s.OFF_ARCH),
    s.Insn(s.BPF_JEQ_K, s.AUDIT_ARCH[arch], jf="allow"),
    s.Insn(s.BPF_LD_W_ABS, s.OFF_NR),
    s.Insn(s.BPF_JEQ_K, nr["clone3"], jt="enosys"),
    s.Insn(s.BPF_JEQ_K, nr["clone"], jt="flags"),
    s.Insn(s.BPF_JEQ_K, nr["unshare"], jt="flags"),
]
if {block_landlock!r}:
    prog.append(s.Insn(s.BPF_JEQ_K, nr["landlock_create_ruleset"], jt="enosys"))
prog += [
    s.Insn(s.BPF_RET_K, s.SECCOMP_RET_ALLOW, label="allow"),
    s.Insn(s.BPF_LD_W_ABS, s.OFF_ARG0, label="flags"),
    s.Insn(s.BPF_JSET_K, CLONE_NEWUSER, jt="eperm", jf="allow2"),
    s.Insn(s.BPF_RET_K, s.SECCOMP_RET_ALLOW, label="allow2"),
    s.Insn(s.BPF_RET_K, s.SECCOMP_RET_ERRNO | EPERM, label="eperm"),
    s.Insn(s.BPF_RET_K, s.SECCOMP_RET_ERRNO | ENOSYS, label="enosys"),
]
s.install_filter(s.assemble(prog))
os.execv(sys.argv[1], sys.argv[1:])
"""

ETC_TARGET = Path("/etc") / f"sbx-landlock-{uuid.uuid4().hex}"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or seccomp_exec.machine() not in seccomp_exec.SYSCALLS,
    reason="the Linux sandbox needs x86_64 or aarch64 Linux",
)


class WrappedServer(ServerProcess):
    """The real server, started under the namespace-blocking seccomp wrapper."""

    def __init__(self, codex_home: Path, wrapper: Path, **kwargs: Any) -> None:
        super().__init__(codex_home, **kwargs)
        self.wrapper = wrapper

    def command(self) -> list[str]:
        return [sys.executable, "-I", str(self.wrapper), sys.executable, "-m", "agent_app_server", *self.args]


@pytest.fixture
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sbx-fallback-", dir="/var/tmp"))
    (root / "ws").mkdir()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def start_wrapped(tmp_path: Path, codex_home: Path, workspace: Path, *, block_landlock: bool) -> WrappedServer:
    wrapper = tmp_path / "block_userns.py"
    helper_dir = str(Path(seccomp_exec.__file__).parent)
    wrapper.write_text(WRAPPER.format(helper_dir=helper_dir, block_landlock=block_landlock))
    empty_bin = tmp_path / "bin-without-bwrap"
    empty_bin.mkdir()
    server = WrappedServer(
        codex_home, wrapper, cwd=workspace / "ws", env={"PATH": str(empty_bin), "PYTHONPATH": os.pathsep.join(sys.path)}
    )
    await server.start()
    return server


@pytest.mark.compat("exec:fail-closed")
async def test_fail_closed_when_no_sandbox_can_be_built(tmp_path: Path, codex_home: Path, workspace: Path) -> None:
    server = await start_wrapped(tmp_path, codex_home, workspace, block_landlock=True)
    try:
        await server.initialize()
        warning = await server.notification("configWarning", timeout=30)
        assert warning["params"]["summary"].startswith("Sandbox unavailable")
        assert "bubblewrap (bwrap) not found" in warning["params"]["details"]
        assert "apt-get install bubblewrap" in warning["params"]["details"]

        marker = workspace / f"ran-{uuid.uuid4().hex}"
        response = await server.call(
            "command/exec",
            {"command": ["/bin/sh", "-c", f"echo ran; : > {marker}"], "sandboxPolicy": {"type": "readOnly"}},
            timeout=30,
        )
        assert "result" not in response
        assert response["error"]["code"] == -32600
        assert "bubblewrap (bwrap) not found on PATH: apt-get install bubblewrap" in response["error"]["message"]
        assert "was not run" in response["error"]["message"]
        assert not marker.exists()

        # An explicit opt-out of the sandbox still runs: the server itself is fine.
        ran = await server.result(
            "command/exec",
            {"command": ["/bin/sh", "-c", f": > {marker}"], "sandboxPolicy": {"type": "dangerFullAccess"}},
            timeout=30,
        )
        assert ran["exitCode"] == 0
        assert marker.exists()
    finally:
        await server.stop()
        server.assert_schema_clean()


@pytest.mark.compat("exec:landlock-fallback")
async def test_landlock_fallback_confines_writes(tmp_path: Path, codex_home: Path, workspace: Path) -> None:
    server = await start_wrapped(tmp_path, codex_home, workspace, block_landlock=False)
    try:
        await server.initialize()
        warning = await server.notification("configWarning", timeout=30)
        assert warning["params"]["summary"] == "Sandbox degraded: using landlock+seccomp"
        assert ".git/.codex" in warning["params"]["details"]
        outside = workspace / "outside"
        script = (
            f"echo a > x && echo ok x; echo b > {ETC_TARGET} 2>/dev/null || echo denied etc; "
            f"echo c > {outside} 2>/dev/null || echo denied outside; /bin/grep Seccomp: /proc/self/status"
        )
        result = await server.result(
            "command/exec",
            {
                "command": ["/bin/sh", "-c", script],
                "sandboxPolicy": {"type": "workspaceWrite", "excludeSlashTmp": True},
            },
            timeout=30,
        )
        assert result["stdout"].splitlines() == ["ok x", "denied etc", "denied outside", "Seccomp:\t2"]
        assert (workspace / "ws" / "x").exists()
        assert not outside.exists()
        assert not ETC_TARGET.exists()
    finally:
        await server.stop()
        server.assert_schema_clean()


def test_denial_heuristic() -> None:
    assert sandbox.looks_like_sandbox_denial(1, "sh: 1: cannot create x: Read-only file system")
    assert sandbox.looks_like_sandbox_denial(1, "connect: Operation not permitted")
    assert sandbox.looks_like_sandbox_denial(159, "")
    assert not sandbox.looks_like_sandbox_denial(0, "Permission denied")
    assert not sandbox.looks_like_sandbox_denial(None, "read-only file system")
    assert not sandbox.looks_like_sandbox_denial(2, "ls: cannot access 'nope': No such file or directory")
    assert not sandbox.looks_like_sandbox_denial(127, "sh: nope: not found")
    assert not sandbox.looks_like_sandbox_denial(1, "plain failure")


def test_unsandboxed_policies_pass_argv_through() -> None:
    for policy in ({"type": "dangerFullAccess"}, {"type": "externalSandbox", "networkAccess": "enabled"}):
        argv, env = sandbox.wrap(["echo", "hi"], policy=policy, cwd="/", env={"A": "1"})
        assert (argv, env) == (["echo", "hi"], {"A": "1"})
