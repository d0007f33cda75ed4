"""thread/approveGuardianDeniedAction through the real server: the user's approval of an action an
auto-review denied reaches the model's next request as a developer message, without a turn."""

from __future__ import annotations

import json
from pathlib import Path

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import run_turn, start_agent, start_thread
from support.server_process import Spawn

ACTION = {
    "type": "network_access",
    "target": "https://example.com",
    "host": "example.com",
    "protocol": "https",
    "port": 443,
}


def _event(**changes: object) -> dict[str, object]:
    return {"id": "review-1", "turn_id": "t", "started_at_ms": 1, "status": "denied", "action": ACTION, **changes}


async def test_a_denied_action_approved_by_the_user_reaches_the_model(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server)
    model.enqueue(text_reply("first"), text_reply("second"))
    await run_turn(server, thread_id, "fetch the page")

    assert await server.result("thread/approveGuardianDeniedAction", {"threadId": thread_id, "event": _event()}) == {}
    # A review that did not deny anything has nothing to override: accepted, nothing recorded.
    approved = _event(id="review-2", status="approved")
    assert await server.result("thread/approveGuardianDeniedAction", {"threadId": thread_id, "event": approved}) == {}
    assert not [m for m in await server.notifications_within() if m["method"] == "turn/started"]

    await run_turn(server, thread_id, "try again")
    items = model.response_requests()[-1].body["input"]
    notes = [item for item in items if item.get("role") == "developer" and "Approved action:" in json.dumps(item)]
    assert len(notes) == 1
    text = notes[0]["content"][0]["text"]
    assert json.loads(text.split("Approved action:\n", 1)[1]) == {"action": ACTION, "outcome": "allowed"}
    assert items.index(notes[0]) < len(items) - 1 and items[-1]["content"][0]["text"] == "try again"


async def test_malformed_events_are_refused_naming_what_is_wrong(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server)
    cases = {
        "missing field `action`": {"id": "x", "status": "denied"},
        "missing field `id`": {},
        "unknown status `nope`": _event(status="nope"),
        "unknown action type `bogus`": _event(action={"type": "bogus"}),
        "missing field `action.source`": _event(action={"type": "command", "command": "ls", "cwd": "/"}),
        "`id` must be a string": _event(id=5),
        "expected an object": None,
    }
    for message, event in cases.items():
        error = (await server.call("thread/approveGuardianDeniedAction", {"threadId": thread_id, "event": event}))[
            "error"
        ]
        assert error["code"] == -32602 and f"invalid Guardian denial event: {message}" in error["message"], error
    unknown = "019a0000-0000-7000-8000-00000000abcd"
    missing = await server.call("thread/approveGuardianDeniedAction", {"threadId": unknown, "event": _event()})
    assert f"thread not found: {unknown}" in missing["error"]["message"]
