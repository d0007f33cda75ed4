"""thread/attachment/* and thread/attachmentOwner/list through the real server: idempotent add,
pages, reverse lookup by identity, notifications only for real changes, and restart."""

from __future__ import annotations

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import ENV, run_turn, start_thread
from support.server_process import ServerProcess, Spawn

PR = {"attachmentType": "pullRequest", "identityKey": "github.com/o/r/pull/7"}


async def _stored_thread(agent: ServerProcess, model: FakeModelServer) -> str:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("ok"))
    await run_turn(agent, thread_id)
    return thread_id


async def test_add_is_idempotent_and_announced_once(agent: ServerProcess, model: FakeModelServer, spawn: Spawn) -> None:
    thread_id = await _stored_thread(agent, model)
    first = await agent.result("thread/attachment/add", {"threadId": thread_id, **PR, "payload": {"draft": True}})
    assert first["outcome"] == "created"
    attachment = first["attachment"]
    assert attachment["payload"] == {"draft": True} and attachment["attachmentType"] == "pullRequest"
    updated = await agent.notification("thread/attachment/updated")
    assert updated["params"] == {"threadId": thread_id, **PR, "attachmentId": attachment["id"], "operation": "created"}

    again = await agent.result("thread/attachment/add", {"threadId": thread_id, **PR, "payload": {"draft": False}})
    # As the reference: the existing attachment is returned unchanged, and nothing is announced.
    assert again == {"outcome": "existing", "attachment": attachment}
    listed = await agent.result("thread/attachment/list", {"threadId": thread_id})
    assert listed == {"data": [attachment], "nextCursor": None}
    owners = await agent.result("thread/attachmentOwner/list", PR)
    assert owners == {"data": [{"threadId": thread_id, "archived": False}], "nextCursor": None}

    await agent.result("thread/archive", {"threadId": thread_id})
    assert (await agent.result("thread/attachmentOwner/list", {**PR, "archived": False}))["data"] == []
    assert (await agent.result("thread/attachmentOwner/list", {**PR, "archived": True}))["data"] == [
        {"threadId": thread_id, "archived": True}
    ]
    await agent.stop()

    restarted = await spawn(env=ENV)
    await restarted.initialize()
    assert (await restarted.result("thread/attachment/list", {"threadId": thread_id}))["data"] == [attachment]
    assert await restarted.result("thread/attachment/remove", {"threadId": thread_id, **PR}) == {}
    deleted = await restarted.notification("thread/attachment/updated")
    assert deleted["params"]["operation"] == "deleted" and deleted["params"]["attachmentId"] == attachment["id"]
    # Removing what is not there succeeds quietly, as the reference.
    assert await restarted.result("thread/attachment/remove", {"threadId": thread_id, **PR}) == {}
    assert (await restarted.result("thread/attachmentOwner/list", PR))["data"] == []
    restarted.assert_schema_clean()


async def test_pages_and_owners_across_threads(agent: ServerProcess, model: FakeModelServer) -> None:
    first = await _stored_thread(agent, model)
    second = await start_thread(agent)  # never ran a turn: attachments work all the same
    for key in ("a", "b", "c"):
        await agent.result(
            "thread/attachment/add", {"threadId": first, "attachmentType": "ticket", "identityKey": key, "payload": key}
        )
    await agent.result(
        "thread/attachment/add", {"threadId": second, "attachmentType": "ticket", "identityKey": "a", "payload": 1}
    )
    page = await agent.result("thread/attachment/list", {"threadId": first, "limit": 2})
    assert [item["identityKey"] for item in page["data"]] == ["a", "b"] and page["nextCursor"] is not None
    rest = await agent.result("thread/attachment/list", {"threadId": first, "limit": 2, "cursor": page["nextCursor"]})
    assert [item["identityKey"] for item in rest["data"]] == ["c"] and rest["nextCursor"] is None
    owners = await agent.result("thread/attachmentOwner/list", {"attachmentType": "ticket", "identityKey": "a"})
    assert sorted(owner["threadId"] for owner in owners["data"]) == sorted([first, second])
    one = await agent.result(
        "thread/attachmentOwner/list", {"attachmentType": "ticket", "identityKey": "a", "limit": 1}
    )
    assert len(one["data"]) == 1 and one["nextCursor"] == one["data"][0]["threadId"]

    # Deleting a thread takes its attachments with it.
    await agent.result("thread/delete", {"threadId": first})
    owners = await agent.result("thread/attachmentOwner/list", {"attachmentType": "ticket", "identityKey": "a"})
    assert [owner["threadId"] for owner in owners["data"]] == [second]


@pytest.mark.compat("pages:unknown-cursor")
async def test_bad_attachment_requests_name_what_to_fix(agent: ServerProcess) -> None:
    thread_id = await start_thread(agent)
    blank = await agent.call(
        "thread/attachment/add", {"threadId": thread_id, "attachmentType": " ", "identityKey": "k", "payload": 1}
    )
    assert blank["error"] == {"code": -32602, "message": "attachmentType must not be empty"}
    blank_key = await agent.call(
        "thread/attachment/add", {"threadId": thread_id, "attachmentType": "t", "identityKey": "", "payload": 1}
    )
    assert blank_key["error"] == {"code": -32602, "message": "identityKey must not be empty"}
    unknown = "01a23592-0000-7000-8000-000000000000"
    missing = await agent.call(
        "thread/attachment/add", {"threadId": unknown, "attachmentType": "t", "identityKey": "k", "payload": 1}
    )
    assert missing["error"] == {"code": -32602, "message": f"thread not found: {unknown}"}
    assert await agent.result("thread/attachment/list", {"threadId": unknown}) == {"data": [], "nextCursor": None}
    bad_cursor = await agent.call("thread/attachment/list", {"threadId": thread_id, "cursor": "zz"})
    assert bad_cursor["error"] == {"code": -32602, "message": "invalid cursor: zz"}
    no_payload = await agent.call(
        "thread/attachment/add", {"threadId": thread_id, "attachmentType": "t", "identityKey": "k"}
    )
    assert no_payload["error"]["code"] == -32602 and "payload" in no_payload["error"]["message"]
