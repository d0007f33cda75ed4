"""update_plan (→ turn/plan/updated) and view_image (→ imageView item, image sent to the model)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import run_turn, start_thread, tool_outputs
from support.server_process import ServerProcess


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


async def test_update_plan_notifies_the_plan(agent: ServerProcess, model: FakeModelServer, tmp_path: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path))
    plan = {"explanation": "why", "plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "pending"}]}
    model.enqueue(function_call_reply("update_plan", json.dumps(plan), "call_1"), text_reply("done"))
    log = await run_turn(agent, thread_id)
    updates = [m["params"] for m in log.notifications if m["method"] == "turn/plan/updated"]
    assert updates == [
        {
            "threadId": thread_id,
            "turnId": log.reply["turn"]["id"],
            "explanation": "why",
            "plan": [{"step": "a", "status": "inProgress"}, {"step": "b", "status": "pending"}],
        }
    ]
    assert tool_outputs(model.requests[1].body)["call_1"] == "Plan updated"


async def test_view_image_shows_the_image_to_the_model(
    agent: ServerProcess, model: FakeModelServer, tmp_path: Path
) -> None:
    (tmp_path / "img.png").write_bytes(tiny_png())
    (tmp_path / "notes.txt").write_text("not an image")
    thread_id = await start_thread(agent, cwd=str(tmp_path))
    model.enqueue(
        function_call_reply("view_image", json.dumps({"path": "img.png"}), "call_1"),
        function_call_reply("view_image", json.dumps({"path": "notes.txt"}), "call_2"),
        function_call_reply("view_image", json.dumps({"path": "missing.png"}), "call_3"),
        text_reply("a red square"),
    )
    log = await run_turn(agent, thread_id)
    items = log.items("imageView")
    assert items == [{"type": "imageView", "id": "call_1", "path": str(tmp_path / "img.png")}]
    outputs = tool_outputs(model.requests[3].body)
    assert outputs["call_1"][0]["type"] == "input_image"
    assert outputs["call_1"][0]["image_url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert outputs["call_2"] == "unable to process image: invalid or unsupported image data"
    assert outputs["call_3"].startswith(f"unable to locate image at `{tmp_path / 'missing.png'}`")


@pytest.mark.compat("tools:catalog")
async def test_unknown_tools_are_answered_as_unsupported(
    agent: ServerProcess, model: FakeModelServer, tmp_path: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path))
    model.enqueue(function_call_reply("spawn_agent", "{}", "call_1"), text_reply("ok"))
    await run_turn(agent, thread_id)
    assert tool_outputs(model.requests[1].body)["call_1"] == "unsupported call: spawn_agent"
