"""Relative, ``~`` and empty paths a client sends as plain strings are resolved as the reference
resolves them: against the server's working directory (``~`` under ``$HOME``). Found by the
differential suite (tests/differential); the reference TUI sends ``config/read {cwd: "."}``.
"""

from __future__ import annotations

from regressions.conftest import Placed


async def test_config_read_accepts_the_tui_relative_cwd(placed: Placed) -> None:
    project = placed.cwd / "proj" / ".codex"
    project.mkdir(parents=True)
    (project / "config.toml").write_text('model = "project-model"\n')
    result = await placed.server.result("config/read", {"includeLayers": True, "cwd": "."})
    assert result["config"]["model"] == "mock-model"
    nested = await placed.server.result("config/read", {"includeLayers": True, "cwd": "proj"})
    folders = [layer["name"].get("dotCodexFolder") for layer in nested["layers"]]
    assert str(project) in folders


async def test_thread_start_resolves_relative_tilde_and_empty_cwd(placed: Placed) -> None:
    expected = {
        "src": placed.cwd / "src",
        ".": placed.cwd,
        "": placed.cwd,
        "~": placed.home,
        "~/x": placed.home / "x",
    }
    for cwd, path in expected.items():
        result = await placed.server.result("thread/start", {"cwd": cwd})
        assert result["cwd"] == str(path), cwd


async def test_turn_start_accepts_a_relative_cwd(placed: Placed) -> None:
    thread = (await placed.server.result("thread/start", {}))["thread"]["id"]
    turn = await placed.server.result(
        "turn/start", {"threadId": thread, "cwd": "src", "input": [{"type": "text", "text": "hi"}]}
    )
    assert turn["turn"]["status"] == "inProgress"
    await placed.server.notification("turn/completed")
    resumed = await placed.server.result("thread/resume", {"threadId": thread, "excludeTurns": True})
    assert resumed["cwd"] == str(placed.cwd / "src")


async def test_command_exec_expands_tilde_in_cwd(placed: Placed) -> None:
    params = {"command": ["pwd"], "cwd": "~", "sandboxPolicy": {"type": "dangerFullAccess"}}
    result = await placed.server.result("command/exec", params)
    assert result["stdout"].strip() == str(placed.home)


async def test_skills_and_hooks_list_accept_relative_cwds(placed: Placed) -> None:
    skills = await placed.server.result("skills/list", {"cwds": ["."]})
    hooks = await placed.server.result("hooks/list", {"cwds": ["src"]})
    assert skills["data"][0]["cwd"] == str(placed.cwd)
    assert hooks["data"][0]["cwd"] == str(placed.cwd / "src")


async def test_fuzzy_file_search_searches_relative_roots_from_the_server_cwd(placed: Placed) -> None:
    result = await placed.server.result("fuzzyFileSearch", {"query": "main", "roots": ["src"]})
    assert [(f["root"], f["path"]) for f in result["files"]] == [("src", "main.py")]
