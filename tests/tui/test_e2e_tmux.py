"""End to end: the real ``agent-app-server tui --remote ws://127.0.0.1:PORT`` in a tmux pane,
against a real server process (ours, then the reference binary's), typed at like a person would:
prompt → streamed answer → approval → command output → ``/quit`` (which prints the resume
command) → that command brings the conversation back.

Waits poll the pane's contents until a deadline. Skipped, with the reason, without tmux (or,
for the second server, without the reference binary)."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent_app_server.testing import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args
from support.model_config import write_mock_config
from support.reference import REPO_ROOT, reference_binary

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
TUI = str(Path(sys.executable).with_name("agent-app-server"))
BANNER = re.compile(r"listening on: (ws://\S+)")
RESUME = re.compile(r"To continue this thread: (agent-app-server tui .*--resume (\S+))")
DEADLINE_S = 60.0
#: Asked for by the UI (the reference refuses `untrusted` in its config, not in thread/start).
ASKING = ("--approval-policy", "untrusted", "--sandbox", "workspace-write")


class Listening:
    """A server process started with ``--listen ws://127.0.0.1:0``; its URL read from the banner."""

    def __init__(self, process: asyncio.subprocess.Process, url: str, drain: asyncio.Task[None]) -> None:
        self.process = process
        self.url = url
        self._drain = drain

    @classmethod
    async def start(cls, argv: list[str], env: dict[str, str], cwd: Path) -> Listening:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        assert process.stderr is not None
        seen = b""
        async with asyncio.timeout(DEADLINE_S):
            while (match := BANNER.search(seen.decode(errors="replace"))) is None:
                line = await process.stderr.readline()
                if not line:
                    raise AssertionError(f"the server exited before listening:\n{seen.decode(errors='replace')}")
                seen += line

        async def drain() -> None:  # the server must never block on a full stderr pipe
            assert process.stderr is not None
            while await process.stderr.read(65536):
                pass

        return cls(process, match.group(1), asyncio.create_task(drain()))

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._drain


class Pane:
    """A tmux session on its own server socket, running one command in a 120x40 pane."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    async def tmux(self, *args: str) -> str:
        assert TMUX is not None
        process = await asyncio.create_subprocess_exec(
            TMUX, "-L", self.socket, "-f", "/dev/null", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env,
        )  # fmt: skip
        out, err = await process.communicate()
        if process.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {err.decode(errors='replace')}")
        return out.decode(errors="replace")

    async def run(self, command: list[str], cwd: Path) -> None:
        line = shlex.join(command)
        await self.tmux("new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", "-c", str(cwd), line)
        # Keep the pane (and what the UI printed on its way out) after the command exits.
        await self.tmux("set-option", "-t", "tui", "remain-on-exit", "on")

    async def text(self) -> str:
        return await self.tmux("capture-pane", "-p", "-J", "-t", "tui")

    async def until(self, pattern: str, what: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE_S
        compiled = re.compile(pattern)
        while True:
            screen = await self.text()
            match = compiled.search(screen)
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{screen}")

    async def type(self, text: str) -> None:
        await self.tmux("send-keys", "-t", "tui", "-l", text)
        await self.tmux("send-keys", "-t", "tui", "Enter")

    async def press(self, key: str) -> None:
        await self.tmux("send-keys", "-t", "tui", key)

    async def close(self) -> None:
        try:
            await self.tmux("kill-server")
        except AssertionError:
            return  # already gone


@pytest.fixture
async def panes(tmp_path: Path) -> AsyncIterator[list[Pane]]:
    made: list[Pane] = []
    yield made
    for pane in made:
        await pane.close()


async def conversation(
    server_argv: list[str], home: Path, workspace: Path, model: FakeModelServer, panes: list[Pane]
) -> None:
    env = {**os.environ, **ENV, "CODEX_HOME": str(home), "TERM": "xterm-256color"}
    server = await Listening.start([*server_argv, "--listen", "ws://127.0.0.1:0"], env, workspace)
    try:
        model.enqueue(
            text_reply("Streaming answer: alpha beta gamma delta"),
            function_call_reply("exec_command", exec_args("echo e2e-output-42"), "call_1"),
            text_reply("The command printed it."),
        )
        pane = Pane(f"tui-e2e-{uuid.uuid4().hex[:8]}", env)
        panes.append(pane)
        await pane.run([TUI, "tui", "--remote", server.url, "--cwd", str(workspace), *ASKING], workspace)
        await pane.until(r"connected", "the UI to connect")
        await pane.type("Say something")
        await pane.until(r"alpha beta gamma delta", "the streamed answer")
        await pane.type("Now run the command")
        await pane.until(r"Run this command\?", "the approval dialog")
        await pane.until(r"echo e2e-output-42", "the command in the dialog")
        await pane.press("y")
        await pane.until(r"(?m)^\W*e2e-output-42\s*$", "the command's output")
        await pane.until(r"The command printed it\.", "the final answer")
        await pane.type("/quit")
        resume = await pane.until(RESUME.pattern, "the resume command")
        thread_id = resume.group(2)
        assert resume.group(1).startswith(f"agent-app-server tui --remote {server.url} --resume ")

        again = Pane(f"tui-e2e-{uuid.uuid4().hex[:8]}", env)
        panes.append(again)
        argv = resume.group(1).split()
        await again.run([TUI, *argv[1:]], workspace)
        await again.until(f"resumed thread {thread_id}", "the thread to be resumed")
        await again.until(r"alpha beta gamma delta", "the earlier answer")
        await again.until(r"e2e-output-42", "the earlier command")
        await again.type("/quit")
        await again.until(RESUME.pattern, "the resume command again")
    finally:
        await server.stop()


async def test_tui_against_our_server_in_tmux(
    home: Path, workspace: Path, model: FakeModelServer, panes: list[Pane]
) -> None:
    await conversation([sys.executable, "-m", "agent_app_server"], home, workspace, model, panes)


REFERENCE, WHY_NOT = reference_binary()


@pytest.fixture
def ref_home(model: FakeModelServer) -> Iterator[Path]:
    # Not under /tmp: the reference refuses to create its helper binaries there.
    home = REPO_ROOT / ".cache" / "tui-reference-homes" / uuid.uuid4().hex
    (home / "ws").mkdir(parents=True)
    write_mock_config(home, model.base_url)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(REFERENCE is None, reason=WHY_NOT)
async def test_tui_against_the_reference_server_in_tmux(
    ref_home: Path, model: FakeModelServer, panes: list[Pane]
) -> None:
    assert REFERENCE is not None
    await conversation([str(REFERENCE), "app-server"], ref_home, ref_home / "ws", model, panes)
