"""The dashboard's page in real headless Chromium, following two real server processes (WebSocket
on 127.0.0.1, the fake model): threads of both servers, a turn streaming into the thread page,
charts drawn, approvals answered from the page one by one and in bulk, who answered, and the
audit log. The test run saves the screenshots the README shows (docs/screenshots)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from agent_app_server.testing.fake_model import Hold, SseEvent, custom_tool_call_reply, text_reply
from support.dashboard import (
    Browser,
    DashboardProcess,
    Watched,
    guarded_turn,
    page_text,
    start_thread,
    start_turn,
    turn_completed,
)

DELTA = "response.output_text.delta"


def held_after(script: list[Any], deltas: int, release: asyncio.Event) -> list[Any]:
    """``script`` paused (until ``release``) after its first ``deltas`` text deltas."""
    out: list[Any] = []
    seen = 0
    for step in script:
        out.append(step)
        if isinstance(step, SseEvent) and step.type == DELTA:
            seen += 1
            if seen == deltas:
                out.append(Hold(release))
    return out


def row_count(css: str, count: int) -> Any:
    return lambda driver: driver.execute_script("return document.querySelectorAll(arguments[0]).length", css) == count


async def test_threads_of_both_servers_a_streaming_turn_and_the_charts(
    watched: dict[str, Watched], dashboard: DashboardProcess, browser: Browser
) -> None:
    alpha, beta = watched["alpha"], watched["beta"]
    alpha_thread = await start_thread(alpha)
    beta_thread = await start_thread(beta)
    beta.model.enqueue(text_reply("beta says hello"))
    await start_turn(beta, beta_thread, "hello beta")
    await turn_completed(beta, beta_thread)

    await browser.get(dashboard.url + "/#/threads")
    for key in (f"alpha/{alpha_thread}", f"beta/{beta_thread}"):
        await browser.until(row_count(f'#threads .thread-row[data-key="{key}"]', 1), message=f"{key} is listed")
    await browser.until(page_text("#threads .thread-row", "hello beta"), message="a thread shows its first message")
    servers = await browser.texts("#threads tbody tr td:first-child")
    assert {"alpha", "beta"} <= set(servers)
    await browser.screenshot("threads")

    # Search narrows the list to one server's thread.
    await browser.call(_type, browser, "#thread-search", beta_thread[-12:])
    await browser.until(row_count("#threads .thread-row", 1), message="search keeps one thread")

    # A turn on alpha streams into its thread page while it runs.
    release = asyncio.Event()
    words = [f"word{i} " for i in range(40)]
    alpha.model.enqueue(held_after(text_reply("".join(words), deltas=words), 20, release))
    await browser.get(f"{dashboard.url}/#/thread/alpha%2F{alpha_thread}")
    await start_turn(alpha, alpha_thread, "stream to the page")
    await browser.until(page_text("#transcript .agentMessage .agent-text", "word19"), message="the first deltas show")
    shown = await browser.texts("#transcript .agentMessage .agent-text")
    assert "word20" not in "".join(shown), "the model is held: the rest has not streamed yet"
    assert await browser.texts("#transcript .turn-status") == ["inProgress"]
    await browser.screenshot("thread-streaming")
    release.set()
    await browser.until(
        page_text("#transcript .agentMessage .agent-text", "word39"), message="the turn streamed to the end"
    )
    await turn_completed(alpha, alpha_thread)
    await browser.until(page_text("#transcript .turn-status", "completed"), message="the turn shows completed")
    assert "".join(await browser.texts("#transcript .agentMessage .agent-text")).strip() == "".join(words).strip()
    await browser.screenshot("thread")

    # The charts draw what the turns used and how they ended.
    await browser.get(dashboard.url + "/#/")
    for chart in ("chart-tokens-model", "chart-tokens-server", "chart-turns"):
        await browser.until(
            lambda driver, chart=chart: (
                driver.execute_script(
                    "return document.querySelectorAll('#' + arguments[0] + ' rect.bar').length", chart
                )
                > 0
            ),
            message=f"{chart} has bars",
        )
    assert await browser.texts("#servers tbody tr td:first-child b") == ["alpha", "beta"]
    await browser.until(page_text("#servers tbody", "connected"))
    await browser.screenshot("overview")


def _type(browser: Browser, css: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    browser.driver.find_element(By.CSS_SELECTOR, css).send_keys(text)


async def test_approvals_from_the_page_one_and_in_bulk_and_the_audit_log(
    watched: dict[str, Watched], dashboard: DashboardProcess, browser: Browser, tmp_path: Path
) -> None:
    alpha, beta = watched["alpha"], watched["beta"]
    await browser.get(dashboard.url + "/#/approvals")

    # One approval, approved from the page: the command runs.
    approved_thread = await guarded_turn(alpha, "approved.txt")
    await browser.until(page_text("#approvals tr.approval", "approved.txt"), message="the approval is listed")
    await browser.click("#approvals tr.approval button.approve")
    turn = await turn_completed(alpha, approved_thread)
    assert turn["status"] == "completed"
    assert (alpha.workspace / "approved.txt").read_text() == "hi\n"
    await browser.until(page_text("#answered tr.answered .answered-by", "this dashboard"))

    # Another client answers first: the page says so.
    other_thread = await guarded_turn(beta, "other.txt")
    await browser.until(page_text("#approvals tr.approval", "other.txt"))
    asked = await asyncio.wait_for(beta.owner.server_requests.get(), 30)
    await beta.owner.send({"id": asked["id"], "result": {"decision": "accept"}})
    await turn_completed(beta, other_thread)
    await browser.until(page_text("#answered tr.answered", "another client"), message="the other client is named")

    # Three approvals on both servers, declined together.
    declined = []
    for entry, target in ((alpha, "one.txt"), (alpha, "two.txt"), (beta, "three.txt")):
        declined.append((entry, await guarded_turn(entry, target)))
        await browser.until(page_text("#approvals tr.approval", target), message=f"the approval to write {target}")
    await browser.until(row_count("#approvals tr.approval", 3), message="three approvals wait")
    await browser.screenshot("approvals")
    await browser.click("#select-all")
    await browser.click("#bulk-decline")
    for entry, thread_id in declined:
        assert (await turn_completed(entry, thread_id))["status"] == "completed"
    for name in ("one.txt", "two.txt", "three.txt"):
        assert not (alpha.workspace / name).exists() and not (beta.workspace / name).exists()
    await browser.until(page_text("#approvals", "nothing waits"), message="no approval is left")

    # The audit log has every decision, with who made it.
    await browser.get(dashboard.url + "/#/audit")
    await browser.until(row_count("#audit tr.audit-row", 5), message="five decisions in the audit log")
    await browser.screenshot("audit")
    rows = await asyncio.to_thread(_audit_rows, tmp_path / "audit.sqlite3")
    assert sorted(rows) == sorted(
        [
            ("alpha", "command", shell("echo hi > approved.txt"), "accept", "this dashboard"),
            ("beta", "command", shell("echo hi > other.txt"), "accept", "another client"),
            ("alpha", "command", shell("echo hi > one.txt"), "decline", "this dashboard"),
            ("alpha", "command", shell("echo hi > two.txt"), "decline", "this dashboard"),
            ("beta", "command", shell("echo hi > three.txt"), "decline", "this dashboard"),
        ]
    )
    await browser.get(dashboard.url + "/#/")
    await browser.until(
        lambda driver: (
            driver.execute_script("return document.querySelectorAll('#chart-approvals rect.bar').length") == 4
        ),
        message="the approvals chart has a bar per server and decision",
    )


def shell(command: str) -> str:
    """The command as the server shows it in the approval (run by bash)."""
    return f"/bin/bash -c '{command}'"


def _audit_rows(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as db:
        return [
            tuple(row)
            for row in db.execute("SELECT server, kind, subject, decision, decided_by FROM approval_decisions")
        ]


async def test_a_file_change_is_approved_from_the_page_and_its_diff_shows(
    watched: dict[str, Watched], dashboard: DashboardProcess, browser: Browser
) -> None:
    beta = watched["beta"]
    patch = "*** Begin Patch\n*** Add File: notes.txt\n+first line\n+second line\n*** End Patch"
    thread_id = await start_thread(beta, approvalPolicy="untrusted", sandbox="read-only")
    beta.model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_patch"), text_reply("written"))
    await start_turn(beta, thread_id, "add notes")
    await browser.get(dashboard.url + "/#/approvals")
    await browser.until(page_text("#approvals tr.approval", "notes.txt"), message="the file change waits")
    assert await browser.texts("#approvals tr.approval td:nth-child(4)") == ["files"]
    await browser.click("#approvals tr.approval button.approve")
    assert (await turn_completed(beta, thread_id))["status"] == "completed"
    assert (beta.workspace / "notes.txt").read_text() == "first line\nsecond line\n"

    await browser.get(f"{dashboard.url}/#/thread/beta%2F{thread_id}")
    await browser.until(page_text("#transcript .fileChange .diff .add", "+second line"), message="the diff shows")
    await browser.until(page_text("#transcript .fileChange .label", "completed"))
