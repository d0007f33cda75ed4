"""The dashboard as a real process, and a real headless Chromium driving its page.

:class:`DashboardProcess` runs ``python -m agent_app_server dashboard ...`` and waits for its
``dashboard listening on:`` line. :class:`Browser` is Selenium on Debian's ``chromium`` and
``chromium-driver`` (a fresh profile, nothing fetched from the network); its calls block, so the
async tests run them in a worker thread (:meth:`Browser.call`) while the event loop keeps the
servers and their clients going. Waits on the page are conditions polled with a deadline: the
DOM has no event a test process can await.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.browser import chromium_missing, start_chromium
from agent_app_server.testing.fake_model import RecordedRequest, function_call_reply, text_reply
from support.agent_turns import exec_args
from support.processes import terminate
from support.ws_client import WsClient, WsServer

BANNER = re.compile(r"dashboard listening on: (http://\S+)")
T = TypeVar("T")

#: Where the test run saves the pages the README shows.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def require_chromium() -> None:
    missing = chromium_missing()
    if missing:
        pytest.skip(
            f"headless Chromium is needed for the dashboard's page tests: {', '.join(missing)} missing "
            "(scripts/dev.sh installs the Debian packages chromium and chromium-driver)"
        )
    pytest.importorskip("selenium", reason="selenium (the dev extra) drives the browser")


@dataclass
class Watched:
    """One watched server: the process, its fake model, a plain client that owns its threads."""

    name: str
    server: WsServer
    model: FakeModelServer
    owner: WsClient
    workspace: Path


class DashboardProcess:
    def __init__(self, workdir: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.args = args
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr_path = workdir / f"dashboard-{id(self)}.stderr"
        self.url = ""

    @property
    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def start(self, within: float = 30) -> DashboardProcess:
        with self.stderr_path.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agent_app_server",
                "dashboard",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, **self.env},
                cwd=self.workdir,
            )
        for _ in range(int(within / 0.05)):
            match = BANNER.search(self.stderr)
            if match:
                self.url = match.group(1)
                return self
            if self.proc.returncode is not None:
                raise AssertionError(f"dashboard exited {self.proc.returncode}:\n{self.stderr}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"dashboard did not listen within {within} s:\n{self.stderr}")

    async def stop(self) -> int:
        assert self.proc is not None
        return await terminate(self.proc)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


class Browser:
    """One headless Chromium with a fresh profile."""

    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
        self.driver = start_chromium(self.profile)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    def wait(self, condition: Callable[[Any], Any], within: float = 30, message: str = "") -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, within, poll_frequency=0.05).until(condition, message)

    async def until(self, condition: Callable[[Any], Any], within: float = 30, message: str = "") -> Any:
        return await self.call(self.wait, condition, within, message)

    async def get(self, url: str) -> None:
        await self.call(self.driver.get, url)

    async def script(self, source: str, *args: Any) -> Any:
        return await self.call(self.driver.execute_script, source, *args)

    async def click(self, css: str) -> None:
        """Find and click in one step inside the page (a live page redraws between two WebDriver calls)."""
        found = await self.script(
            "const e = document.querySelector(arguments[0]); if (e) e.click(); return e !== null", css
        )
        assert found, f"nothing on the page matches {css}"

    async def texts(self, css: str) -> list[str]:
        return list(await self.script(f"return [...document.querySelectorAll({css!r})].map(e => e.textContent)"))

    async def screenshot(self, name: str) -> None:
        """Saved under docs/screenshots (the README links them), after the page has drawn."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.script("return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        await self.call(self.driver.save_screenshot, str(SCREENSHOTS / f"dashboard-{name}.png"))

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


# ---------------------------------------------------------------------- driving the watched servers


async def start_thread(entry: Watched, **fields: Any) -> str:
    params = {"cwd": str(entry.workspace), **fields}
    thread_id: str = (await entry.owner.result("thread/start", params))["thread"]["id"]
    return thread_id


async def start_turn(entry: Watched, thread_id: str, text: str) -> None:
    await entry.owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})


async def turn_completed(entry: Watched, thread_id: str) -> dict[str, Any]:
    """The thread's turn/completed, whether it arrived already or is still to come (the owner
    runs several threads at once)."""
    async with asyncio.timeout(60):
        while True:
            for message in entry.owner.received:
                if message.get("method") == "turn/completed" and message["params"]["threadId"] == thread_id:
                    turn: dict[str, Any] = message["params"]["turn"]
                    return turn
            await entry.owner.notification("turn/completed")


def command_or_done(request: RecordedRequest) -> list[Any]:
    """The model of a guarded turn: asked to ``write NAME``, it runs ``echo hi > NAME``; given the
    command's outcome, it says done. Decided per request, so concurrent turns cannot swap replies."""
    last = (request.body.get("input") or [{}])[-1]
    if last.get("type") == "function_call_output":
        return text_reply("done")
    text = json.dumps(last)
    target = text.split("write ", 1)[1].split('"', 1)[0]
    return function_call_reply("exec_command", exec_args(f"echo hi > {target}"), f"call_{target}")


async def guarded_turn(entry: Watched, target: str) -> str:
    """A turn whose command (writing ``target``) waits for an approval."""
    thread_id = await start_thread(entry, approvalPolicy="untrusted", sandbox="workspace-write")
    entry.model.default_script = command_or_done
    await start_turn(entry, thread_id, f"write {target}")
    return thread_id


def page_text(css: str, needle: str) -> Any:
    def condition(driver: Any) -> bool:
        return bool(
            driver.execute_script(
                "return [...document.querySelectorAll(arguments[0])].some(e => e.textContent.includes(arguments[1]))",
                css,
                needle,
            )
        )

    return condition
