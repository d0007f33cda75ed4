"""Child processes the server runs for clients and for the agent: pipes or a real PTY, output as
it arrives, stdin, resize, and killing the whole process tree.

Owns: spawning (each child leads its own session and process group, so terminating it reaches
everything it started), non-blocking reads from pipes or a PTY master, writes, and reaping.
It knows nothing about sandboxes: callers pass the argv :func:`core.sandbox.wrap` built (and
its ``cleanup``). Layer: core (stdlib only).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["ManagedProcess", "exit_code_of"]

_CHUNK = 64 * 1024
#: Chunks buffered per process before its readers stop draining the pipes (the child then
#: blocks on write, which is the backpressure we want).
_QUEUE_CHUNKS = 64


def exit_code_of(returncode: int) -> int:
    """A ``waitpid`` status as a shell reports it: killed by signal N → 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _set_controlling_tty() -> None:  # pragma: no cover - runs in the child between fork and exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ManagedProcess:
    """One child process in its own session and process group.

    Create with :meth:`spawn`. Output arrives through :meth:`read` as ``(stream, bytes)`` with
    stream ``"stdout"``/``"stderr"`` (pipes) or ``"pty"`` (terminal, both merged).
    """

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        *,
        tty: bool,
        master_fd: int | None,
        cleanup: Callable[[], None] | None,
    ) -> None:
        self._proc = proc
        self.tty = tty
        self._master_fd = master_fd
        self._cleanup = cleanup
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        self._pending: tuple[str, bytes] | None = None
        self._open_streams = 0
        self._eof = False
        self._returncode: int | None = None
        self._stdin_closed = False
        self._pumps: list[asyncio.Task[None]] = []
        #: Terminal input the terminal could not take yet, written in order in the background.
        self._pty_backlog: list[bytes] = []
        self._wait_task: asyncio.Task[int] | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (128 + N when killed by signal N) once reaped, else None."""
        return self._returncode

    # ------------------------------------------------------------------ spawning

    @classmethod
    async def spawn(
        cls,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        tty: bool = False,
        size: tuple[int, int] | None = None,
        stdin: bool = True,
        cleanup: Callable[[], None] | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` in ``cwd`` with exactly ``env``.

        ``tty``: a new PTY becomes the child's controlling terminal and its stdin/stdout/stderr
        (``size`` = (rows, cols), default 24 rows by 80 columns). Otherwise stdout and stderr are pipes and stdin
        a pipe (``stdin=True``) or ``/dev/null``. ``cleanup`` runs once after the child is reaped
        (e.g. :meth:`WrappedCommand.cleanup`). Raises ``OSError`` when the program cannot start.
        """
        if not argv:
            raise ValueError("argv must not be empty")
        try:
            if tty:
                return await cls._spawn_pty(argv, cwd=cwd, env=env, size=size or (24, 80), cleanup=cleanup)
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except BaseException:
            if cleanup is not None:
                cleanup()
            raise
        process = cls(proc, tty=False, master_fd=None, cleanup=cleanup)
        if not stdin:
            process._stdin_closed = True
        assert proc.stdout is not None and proc.stderr is not None
        process._start_pump(process._pump_stream(proc.stdout, "stdout"))
        process._start_pump(process._pump_stream(proc.stderr, "stderr"))
        return process

    @classmethod
    async def _spawn_pty(
        cls,
        argv: list[str],
        *,
        cwd: str,
        env: dict[str, str],
        size: tuple[int, int],
        cleanup: Callable[[], None] | None,
    ) -> ManagedProcess:
        master, slave = os.openpty()
        try:
            _set_winsize(slave, size[0], size[1])
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=_set_controlling_tty,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        process = cls(proc, tty=True, master_fd=master, cleanup=cleanup)
        process._start_pump(process._pump_pty(master))
        return process

    def _start_pump(self, coro: Coroutine[Any, Any, None]) -> None:
        self._open_streams += 1
        self._pumps.append(asyncio.get_running_loop().create_task(coro))

    async def _stream_done(self) -> None:
        self._open_streams -= 1
        if self._open_streams == 0:
            await self._queue.put(None)

    async def _pump_stream(self, reader: asyncio.StreamReader, name: str) -> None:
        try:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                await self._queue.put((name, data))
        except (OSError, ValueError):
            pass
        finally:
            await self._stream_done()

    async def _pump_pty(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    data = os.read(fd, _CHUNK)
                except BlockingIOError:
                    readable: asyncio.Future[None] = loop.create_future()
                    loop.add_reader(fd, _resolve, readable)
                    try:
                        await readable
                    finally:
                        loop.remove_reader(fd)
                    continue
                except OSError:
                    # EIO: every holder of the terminal's other end has gone.
                    break
                if not data:
                    break
                await self._queue.put(("pty", data))
        finally:
            await self._stream_done()

    # ------------------------------------------------------------------ output

    async def read(self, max_bytes: int = _CHUNK) -> tuple[str, bytes] | None:
        """The next chunk of output (at most ``max_bytes``) as it arrives; None once every
        stream reached end of file. Output of a child's own children that keep the streams open
        keeps coming after the child exited."""
        if self._pending is not None:
            stream, data = self._pending
        else:
            if self._eof:
                return None
            item = await self._queue.get()
            if item is None:
                self._eof = True
                return None
            stream, data = item
        if len(data) > max_bytes:
            self._pending = (stream, data[max_bytes:])
            return stream, data[:max_bytes]
        self._pending = None
        return stream, data

    # ------------------------------------------------------------------ input

    async def write(self, data: bytes) -> None:
        """Write to the child's stdin (or terminal). Raises ``BrokenPipeError`` once it is closed."""
        if self._stdin_closed:
            raise BrokenPipeError(errno.EPIPE, "stdin is closed")
        if self._master_fd is not None:
            await self._write_pty(data)
            return
        stdin = self._proc.stdin
        if stdin is None:
            raise BrokenPipeError(errno.EPIPE, "stdin is closed")
        try:
            stdin.write(data)
            await stdin.drain()
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise BrokenPipeError(errno.EPIPE, "the process no longer reads its stdin") from exc

    async def _write_pty(self, data: bytes) -> None:
        """Write to the terminal without waiting for the child to read it, as the reference: a
        terminal in line mode takes about 4 KiB before a newline, and a request must not hang on
        that. What it cannot take now is written, in order, in the background."""
        fd = self._master_fd
        if fd is None:
            raise BrokenPipeError(errno.EPIPE, "the terminal is closed")
        if not self._pty_backlog:
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                pass
            except OSError as exc:
                raise BrokenPipeError(errno.EPIPE, "the terminal is closed") from exc
            if not data:
                return
            self._pumps.append(asyncio.get_running_loop().create_task(self._drain_pty_backlog(fd)))
        self._pty_backlog.append(data)

    async def _drain_pty_backlog(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pty_backlog and self._master_fd == fd:
                writable: asyncio.Future[None] = loop.create_future()
                loop.add_writer(fd, _resolve, writable)
                try:
                    await writable
                finally:
                    loop.remove_writer(fd)
                with contextlib.suppress(BlockingIOError):
                    self._pty_backlog[0] = self._pty_backlog[0][os.write(fd, self._pty_backlog[0]) :]
                if not self._pty_backlog[0]:
                    self._pty_backlog.pop(0)
        except OSError:
            pass  # the terminal closed: nobody is left to read the rest
        finally:
            self._pty_backlog.clear()

    async def close_stdin(self) -> None:
        """End the child's input: close the pipe, or type end-of-file (^D) on a terminal."""
        if self._stdin_closed:
            return
        if self._master_fd is not None:
            with contextlib.suppress(BrokenPipeError):
                await self._write_pty(b"\x04")
        elif self._proc.stdin is not None:
            self._proc.stdin.close()
            with contextlib.suppress(Exception):
                await self._proc.stdin.wait_closed()
        self._stdin_closed = True

    def resize(self, rows: int, cols: int) -> None:
        """Change the terminal size (the child gets SIGWINCH). Only for ``tty`` processes."""
        if self._master_fd is None:
            raise ValueError("resize needs a process started with tty=True")
        _set_winsize(self._master_fd, rows, cols)

    # ------------------------------------------------------------------ ending

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the child's whole process group (everything it started that did
        not leave the group)."""
        if self._returncode is not None and self._proc.returncode is not None:
            # Reaped: the group id may already belong to someone else.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signum)
            return
        try:
            os.killpg(self._proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signum)

    async def terminate(self, grace_s: float = 2.0) -> int:
        """SIGTERM the process group, SIGKILL it after ``grace_s``; the exit code."""
        if self._proc.returncode is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.wait()), grace_s)
        # Whatever is left of the group (children that ignored SIGTERM) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        return await self.wait()

    async def wait(self) -> int:
        """Wait for the child to exit; its exit code (128 + N when killed by signal N)."""
        if self._wait_task is None:
            self._wait_task = asyncio.get_running_loop().create_task(self._reap())
        return await asyncio.shield(self._wait_task)

    async def _reap(self) -> int:
        returncode = await self._proc.wait()
        self._returncode = exit_code_of(returncode)
        self._run_cleanup()
        return self._returncode

    def _run_cleanup(self) -> None:
        callback, self._cleanup = self._cleanup, None
        if callback is not None:
            with contextlib.suppress(Exception):
                callback()

    async def close(self) -> None:
        """Release the terminal and reader tasks; kill the group first if it still runs."""
        if self._proc.returncode is None:
            await self.terminate()
        for task in self._pumps:
            if not task.done():
                task.cancel()
        for task in self._pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._master_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._master_fd)
            self._master_fd = None
        self._run_cleanup()
