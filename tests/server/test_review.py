"""review/start through the real server: a review runs as a turn of the thread, framed by
``enteredReviewMode`` / ``exitedReviewMode``, with the reviewer's instructions, read-only tools and
a fresh history; its findings join the thread's history for the turns after it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import run_turn, start_agent, start_thread
from support.server_process import ServerClient, Spawn


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on `main` with one commit, a feature branch with another, and a local change."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('hi')\n")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "init")
    _git(root, "checkout", "-qb", "feature")
    (root / "app.py").write_text("print('hello')\n")
    _git(root, "commit", "-qam", "greet")
    (root / "app.py").write_text("print('hello, world')\n")
    return root


async def _review(
    server: ServerClient, thread_id: str, target: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The reply and the notifications up to the review turn's end."""
    reply = await server.result("review/start", {"threadId": thread_id, "target": target})
    seen = []
    while True:
        message = await server.notification()
        seen.append(message)
        if message["method"] == "turn/completed" and message["params"]["turn"]["id"] == reply["turn"]["id"]:
            return reply, seen


def _item_events(seen: list[dict[str, Any]]) -> list[str]:
    return [
        f"{m['method']}:{m['params']['item']['type']}" if m["method"].startswith("item/") else m["method"]
        for m in seen
        if m["method"] in ("turn/started", "item/started", "item/completed", "turn/completed")
    ]


@pytest.mark.compat("review:one-turn")
async def test_a_review_runs_inline_and_its_findings_stay_in_the_thread(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, repo: Path
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server, cwd=str(repo))
    model.enqueue(text_reply("earlier answer"), text_reply("No issues: the greeting change is correct."))
    await run_turn(server, thread_id, "earlier question")

    reply, seen = await _review(server, thread_id, {"type": "uncommittedChanges"})
    turn_id = reply["turn"]["id"]
    assert reply["reviewThreadId"] == thread_id
    assert reply["turn"]["rootTurnId"] is None and reply["turn"]["startedAt"] is None
    assert reply["turn"]["items"][0]["content"][0]["text"] == "current changes"
    assert _item_events(seen) == [
        "turn/started",
        "item/started:enteredReviewMode",
        "item/completed:enteredReviewMode",
        "item/started:userMessage",
        "item/completed:userMessage",
        "item/started:agentMessage",
        "item/completed:agentMessage",
        "item/started:exitedReviewMode",
        "item/completed:exitedReviewMode",
        "turn/completed",
    ]
    items = {m["params"]["item"]["type"]: m["params"]["item"] for m in seen if m["method"] == "item/completed"}
    assert items["enteredReviewMode"]["review"] == "current changes"
    assert items["exitedReviewMode"]["review"] == "No issues: the greeting change is correct."
    assert all(m["params"].get("turnId", turn_id) == turn_id for m in seen if m["method"].startswith("item/"))

    request = model.response_requests()[-1].body
    assert sorted(tool["name"] for tool in request["tools"]) == ["exec_command", "view_image", "write_stdin"]
    text = json.dumps(request["input"])
    assert "Reviewing a code change" in text
    assert "earlier question" not in text, "the reviewer starts from a fresh history"
    assert "staged, unstaged and untracked" in request["input"][-1]["content"][0]["text"]

    # The thread's own history comes back, with the findings.
    model.enqueue(text_reply("fixing"))
    await run_turn(server, thread_id, "now fix what the review found")
    after = json.dumps(model.response_requests()[-1].body["input"])
    assert "earlier question" in after and "No issues: the greeting change is correct." in after
    assert "Reviewing a code change" not in after, "the reviewer's instructions do not stay"


async def test_targets_give_the_reviewer_what_to_inspect(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, repo: Path
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server, cwd=str(repo))
    merge_base = _git(repo, "merge-base", "HEAD", "main")
    cases = [
        ({"type": "baseBranch", "branch": "main"}, "changes against 'main'", f"git diff {merge_base}"),
        ({"type": "commit", "sha": "abc1234", "title": "greet"}, "commit abc1234: greet", 'commit abc1234 ("greet")'),
        ({"type": "custom", "instructions": "  Check the error handling "}, "Check the error handling", None),
    ]
    for target, hint, in_prompt in cases:
        model.enqueue(text_reply("Looks fine."))
        reply, _ = await _review(server, thread_id, target)
        assert reply["turn"]["items"][0]["content"][0]["text"] == hint
        prompt = model.response_requests()[-1].body["input"][-1]["content"][0]["text"]
        assert (in_prompt or hint) in prompt, prompt

    refused = {
        "instructions must not be empty": {"type": "custom", "instructions": " "},
        "sha must not be empty": {"type": "commit", "sha": ""},
        "branch must not be empty": {"type": "baseBranch", "branch": ""},
    }
    for message, target in refused.items():
        error = (await server.call("review/start", {"threadId": thread_id, "target": target}))["error"]
        assert error["code"] == -32602 and message in error["message"]
    detached = await server.call(
        "review/start", {"threadId": thread_id, "target": {"type": "uncommittedChanges"}, "delivery": "detached"}
    )
    assert detached["error"]["code"] == -32602 and "delivery" in detached["error"]["message"]
    unknown = "019a0000-0000-7000-8000-00000000abcd"
    missing = await server.call("review/start", {"threadId": unknown, "target": {"type": "uncommittedChanges"}})
    assert f"thread not found: {unknown}" in missing["error"]["message"]
