"""ManagedProcess with real child processes: pipes, PTY, stdin, resize, killing the tree."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from agent_app_server.core.processes import ManagedProcess
from support.processes import alive, exited

ENV = dict(os.environ)


async def collect(process: ManagedProcess, max_bytes: int = 65536) -> dict[str, bytes]:
    seen: dict[str, bytes] = {}
    while (chunk := await asyncio.wait_for(process.read(max_bytes), 20)) is not None:
        stream, data = chunk
        assert 0 < len(data) <= max_bytes
        seen[stream] = seen.get(stream, b"") + data
    return seen


async def test_pipes_keep_stdout_and_stderr_apart_and_take_stdin(tmp_path: Path) -> None:
    cleaned: list[bool] = []
    process = await ManagedProcess.spawn(
        ["sh", "-c", "read line; echo out:$line; echo err >&2; exit 3"],
        cwd=str(tmp_path),
        env=ENV,
        cleanup=lambda: cleaned.append(True),
    )
    await process.write(b"abc\n")
    await process.close_stdin()
    assert await collect(process, max_bytes=3) == {"stdout": b"out:abc\n", "stderr": b"err\n"}
    assert await process.wait() == 3
    assert process.returncode == 3
    assert cleaned == [True]
    await process.close()
    assert cleaned == [True]


async def test_pty_is_a_real_terminal_with_a_size(tmp_path: Path) -> None:
    process = await ManagedProcess.spawn(
        ["sh", "-c", "stty size; read line; stty size; echo got:$line"],
        cwd=str(tmp_path),
        env=ENV,
        tty=True,
        size=(7, 33),
    )
    first = await asyncio.wait_for(process.read(), 20)
    assert first == ("pty", b"7 33\r\n")
    process.resize(9, 44)
    await process.write(b"hi\n")
    rest = await collect(process)
    # The terminal echoes the input (\r\n line endings), then the new size.
    assert rest["pty"] == b"hi\r\n9 44\r\ngot:hi\r\n"
    assert await process.wait() == 0
    await process.close()


async def test_terminate_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    process = await ManagedProcess.spawn(
        ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; trap '' TERM; sleep 300 & wait"],
        cwd=str(tmp_path),
        env=ENV,
        stdin=False,
    )
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert alive(grandchild)
    # The shell ignores SIGTERM, so this needs the SIGKILL after the grace period.
    code = await process.terminate(grace_s=0.5)
    assert code in (128 + signal.SIGTERM, 128 + signal.SIGKILL)
    await exited(grandchild)
    await process.close()


async def test_missing_program_raises() -> None:
    try:
        await ManagedProcess.spawn(["/nonexistent/program"], cwd="/", env=ENV)
    except OSError:
        return
    raise AssertionError("spawning a missing program must raise OSError")
