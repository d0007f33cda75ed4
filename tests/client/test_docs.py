"""Runs every Python example of docs/clients.md, in order, in one namespace (top-level ``await``
allowed), against a real server and the fake model, and checks what each prints."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

from agent_app_server.testing import FakeModelServer, function_call_reply, response_failed, text_reply
from agent_app_server.testing.fake_model import Script
from support.reference import REPO_ROOT
from support.ws_client import Spawner

DOC = REPO_ROOT / "docs" / "clients.md"
EXAMPLE = re.compile(r"<!-- example: (\w+) -->\n```python\n(.*?)```", re.S)
CMD = json.dumps({"cmd": "echo hello > hello.txt", "login": False, "yield_time_ms": 10_000})

#: What the fake model answers during each example (default: "Hello from the fake model.").
SCRIPTS: dict[str, list[Script]] = {
    "approvals": [function_call_reply("exec_command", CMD, "call_1"), text_reply("Created it.")],
    "errors": [response_failed("context_length_exceeded", "Your input exceeds the context window of this model.")],
    "reconnect": [text_reply("Once upon a time.")],
}
#: Lines each example must print (in order, among others).
EXPECTED: dict[str, list[str]] = {
    "raw": ["my_client/0.169.0", "Hello from the fake model."],
    "connect": ["agent_app_server_client/", "[]"],
    "turn": ["Hello from the fake model.", "completed Hello from the fake model.", "1 turn(s) stored", "True"],
    "approvals": ["asked to run: ", "completed hello"],
    "errors": ["-32602 Invalid params for thread/read: `threadId`", "too long: "],
    "backpressure": ["100 answered"],
    "reconnect": ["Once upon a time. | reconnects: 0"],
    "tokens": ["refusing to send a bearer token over unencrypted ws:// to 'agents.example.com'"],
    "sync": ["completed True"],
}


def examples() -> list[tuple[str, str]]:
    text = DOC.read_text()
    found = EXAMPLE.findall(text)
    assert text.count("```python") == len(found), "every python block needs an <!-- example: NAME --> marker"
    return found


async def test_every_example_runs(home: Path, workspace: Path, model: FakeModelServer, ws_spawn: Spawner) -> None:
    server = await ws_spawn()
    namespace: dict[str, Any] = {"home": home, "workspace": workspace, "ws_url": server.url}
    names = [name for name, _ in examples()]
    assert names == list(EXPECTED), "docs and test disagree on the examples"
    for name, code in examples():
        model.enqueue(*SCRIPTS.get(name, []))
        compiled = compile(code, f"{DOC.name}:{name}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = eval(compiled, namespace)
            if result is not None:
                await result
        printed = out.getvalue()
        at = 0
        for expected in EXPECTED[name]:
            found = printed.find(expected, at)
            assert found >= 0, f"example {name!r} did not print {expected!r}; it printed:\n{printed}"
            at = found + len(expected)
        assert model.pending == 0, f"example {name!r} left model scripts unused"
