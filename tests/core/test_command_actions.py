"""commandActions: how a shell command is summarised for clients (the reference's shapes)."""

from __future__ import annotations

import pytest

from agent_app_server.core.tools.command_actions import command_actions, short_path

CWD = "/w"


@pytest.mark.parametrize(
    ("script", "actions"),
    [
        ("cat greet.txt", [{"type": "read", "command": "cat greet.txt", "name": "greet.txt", "path": "/w/greet.txt"}]),
        (
            "sed -n 1,5p greet.txt",
            [{"type": "read", "command": "sed -n '1,5p' greet.txt", "name": "greet.txt", "path": "/w/greet.txt"}],
        ),
        (
            "ls -la && rg hello . | head -5",
            [
                {"type": "listFiles", "command": "ls -la", "path": None},
                {"type": "search", "command": "rg hello .", "query": "hello", "path": "."},
            ],
        ),
        ("ls /nonexistent-dir", [{"type": "listFiles", "command": "ls /nonexistent-dir", "path": "nonexistent-dir"}]),
        ("echo hi > out.txt", [{"type": "unknown", "command": "echo hi > out.txt"}]),
        (
            "cd sub && head -n 3 a.txt",
            [{"type": "read", "command": "head -n 3 a.txt", "name": "a.txt", "path": "/w/sub/a.txt"}],
        ),
        ("grep -rn TODO src/", [{"type": "search", "command": "grep -rn TODO src/", "query": "TODO", "path": "src"}]),
        ("find . -name '*.py'", [{"type": "search", "command": "find . -name '*.py'", "query": "*.py", "path": "."}]),
        ("rg --files", [{"type": "listFiles", "command": "rg --files", "path": None}]),
    ],
)
def test_known_shapes(script: str, actions: list[dict[str, object]]) -> None:
    assert command_actions(script, CWD) == actions


@pytest.mark.parametrize(
    "script",
    ["python x.py", "cat a.txt && rm -rf b", "echo $(cat a)", "cat `which x`", "(cd a; ls)", "ls &", "cat 'unclosed"],
)
def test_anything_not_understood_is_one_unknown_action(script: str) -> None:
    assert command_actions(script, CWD) == [{"type": "unknown", "command": script}]


def test_short_path() -> None:
    assert short_path("/a/b/src/") == "b"
    assert short_path(".") == "."
    assert short_path("lib/mod.rs") == "mod.rs"
