"""Processes seen from outside: finding them by command line, and waiting for them to exit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has exited: only its parent has not reaped it yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pids_with(marker: str, *, anywhere: bool = False) -> list[int]:
    """Live processes that have ``marker`` as one of their command-line arguments (``anywhere``:
    inside any argument, e.g. a ``sh -c`` script)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        found_in = cmdline if anywhere else cmdline.split(b"\0")
        if marker.encode() in found_in and alive(int(entry)):
            found.append(int(entry))
    return found


async def exited(*pids: int, within: float = 10) -> None:
    """Wait until each of ``pids`` (any process, not only our children) has exited: its pidfd
    becomes readable then."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        for pid in pids:
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                gone: asyncio.Future[None] = loop.create_future()
                loop.add_reader(fd, lambda done=gone: done.done() or done.set_result(None))
                try:
                    await gone
                finally:
                    loop.remove_reader(fd)
            finally:
                os.close(fd)


async def terminate(proc: asyncio.subprocess.Process, within: float = 20) -> int:
    """SIGTERM (a graceful shutdown), SIGKILL if ``proc`` has not exited ``within`` seconds; its exit code."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), within)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0
