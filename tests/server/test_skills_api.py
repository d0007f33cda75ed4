"""Skills and hooks through the real server: SKILL.md discovery in $CODEX_HOME/skills and the
project's .codex/skills, per-file errors, skills/changed, skills/config/write, and hooks/list."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.model_config import write_mock_config
from support.server_process import Spawn


def write_skill(root: Path, folder: str, front_matter: str | None, body: str = "Do the thing.\n") -> Path:
    path = root / folder / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((f"---\n{front_matter}---\n" if front_matter is not None else "") + body)
    return path


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    return project


async def test_skills_list_discovers_user_and_project_skills(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    user_skills = codex_home / "skills"
    repo_skills = project / ".codex" / "skills"
    mine = write_skill(user_skills, "my-skill", "name: my-skill\ndescription: Does my thing\n")
    unnamed = write_skill(user_skills, "unnamed", "description: >\n  Folded\n  description\n")
    repo = write_skill(
        repo_skills, "deploy", "name: deploy\ndescription: Ship it\nmetadata:\n  short-description: ship\n"
    )
    broken = write_skill(repo_skills, "broken", None)
    nodesc = write_skill(repo_skills, "nodesc", "name: nodesc\n")
    server = await spawn()
    await server.initialize()

    result = await server.result("skills/list", {"cwds": [str(project)]})
    entry = result["data"][0]
    assert entry["cwd"] == str(project)
    assert [(s["name"], s["scope"], s["path"]) for s in entry["skills"]] == [
        ("deploy", "repo", str(repo)),
        ("my-skill", "user", str(mine)),
        ("unnamed", "user", str(unnamed)),
    ]
    assert entry["skills"][0]["shortDescription"] == "ship" and entry["skills"][0]["enabled"] is True
    assert entry["skills"][2]["description"] == "Folded description"
    errors = {e["path"]: e["message"] for e in entry["errors"]}
    assert set(errors) == {str(broken), str(nodesc)}
    assert "frontmatter" in errors[str(broken)] and "description" in errors[str(nodesc)]
    # Relative cwds are the server's cwd's (tests/regressions/test_relative_paths_resolved.py).


@pytest.mark.compat("skills:changed")
@pytest.mark.compat("skills:system")
async def test_system_skills_are_listed_only_when_present(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    server = await spawn()
    await server.initialize()
    listed = await server.result("skills/list", {"cwds": [str(project)]})
    assert listed["data"][0]["skills"] == []
    assert not (codex_home / "skills").exists(), "nothing is installed into CODEX_HOME"

    path = write_skill(codex_home / "skills" / ".system", "helper", "name: helper\ndescription: Helps\n")
    listed = await server.result("skills/list", {"cwds": [str(project)], "forceReload": True})
    (skill,) = listed["data"][0]["skills"]
    assert (skill["name"], skill["scope"], skill["path"]) == ("helper", "system", str(path))
    assert skill["interface"] is None and skill["dependencies"] is None


@pytest.mark.compat("hooks:untrusted-not-run")
async def test_untrusted_hooks_are_listed_but_not_run(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    events = ("SessionStart", "UserPromptSubmit", "Stop")
    hooks = "\n".join(
        f'[[hooks.{event}]]\n[[hooks.{event}.hooks]]\ntype = "command"\ncommand = "touch {tmp_path / event}"\n'
        for event in events
    )
    async with FakeModelServer() as model:
        write_mock_config(codex_home, model.base_url, extra=hooks)
        server = await spawn(env={"MOCK_API_KEY": "k"})
        await server.initialize()
        listed = await server.result("hooks/list", {"cwds": [str(tmp_path)]})
        assert sorted(h["eventName"] for h in listed["data"][0]["hooks"]) == [
            "sessionStart",
            "stop",
            "userPromptSubmit",
        ]
        thread_id = (await server.result("thread/start", {"cwd": str(tmp_path)}))["thread"]["id"]
        model.enqueue(text_reply("done"))
        await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]})
        completed = await server.notification("turn/completed")
        assert completed["params"]["turn"]["status"] == "completed"
    assert [event for event in events if (tmp_path / event).exists()] == []


async def test_skills_changed_and_config_write(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (codex_home / "config.toml").write_text("# keep me\n")
    server = await spawn()
    await server.initialize()
    first = await server.result("skills/list", {"cwds": [str(project)]})
    assert first["data"][0]["skills"] == []

    path = write_skill(codex_home / "skills", "new-skill", "name: new-skill\ndescription: New\n")
    changed = await server.notification("skills/changed", timeout=20)
    assert changed["params"] == {}
    listed = await server.result("skills/list", {"cwds": [str(project)]})
    assert [s["name"] for s in listed["data"][0]["skills"]] == ["new-skill"]

    assert await server.result("skills/config/write", {"name": "new-skill", "enabled": False}) == {
        "effectiveEnabled": False
    }
    again = await server.result("skills/list", {"cwds": [str(project)], "forceReload": True})
    assert again["data"][0]["skills"][0]["enabled"] is False
    text = (codex_home / "config.toml").read_text()
    assert text.startswith("# keep me\n") and "[[skills.config]]" in text

    await server.result("skills/config/write", {"path": str(path), "enabled": True})
    await server.result("skills/config/write", {"name": "new-skill", "enabled": True})
    enabled = await server.result("skills/list", {"cwds": [str(project)]})
    assert enabled["data"][0]["skills"][0]["enabled"] is True

    for bad in ({"enabled": False}, {"enabled": False, "name": "a", "path": str(path)}):
        response = await server.call("skills/config/write", bad)
        assert response["error"]["code"] == -32602
        assert "exactly one of path or name" in response["error"]["message"]


async def test_hooks_list(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    server_empty = await spawn()
    await server_empty.initialize()
    empty = await server_empty.result("hooks/list", {"cwds": [str(project)]})
    assert empty == {"data": [{"cwd": str(project), "hooks": [], "warnings": [], "errors": []}]}

    (codex_home / "config.toml").write_text(
        '[[hooks.PreToolUse]]\nmatcher = "Bash"\n[[hooks.PreToolUse.hooks]]\ntype = "command"\n'
        'command = "echo hi"\ntimeout = 30\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = "command"\n'
    )
    server = await spawn()
    await server.initialize()
    result = await server.result("hooks/list", {"cwds": [str(project)]})
    entry = result["data"][0]
    assert len(entry["hooks"]) == 1
    hook = entry["hooks"][0]
    assert hook["eventName"] == "preToolUse" and hook["handlerType"] == "command"
    assert hook["command"] == "echo hi" and hook["async"] is False and hook["matcher"] == "Bash"
    assert hook["timeoutSec"] == 30 and hook["source"] == "user"
    assert hook["sourcePath"] == str(codex_home / "config.toml")
    assert hook["currentHash"].startswith("sha256:")
    assert len(entry["errors"]) == 1 and "command" in entry["errors"][0]["message"]


async def test_extra_roots_add_skills_for_every_cwd(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "team-skills"
    write_skill(extra, "deploy", "name: deploy\ndescription: Ship it\n")
    project = make_project(tmp_path)
    server = await spawn()
    await server.initialize()
    before = await server.result("skills/list", {"cwds": [str(project)]})
    assert "deploy" not in [skill["name"] for skill in before["data"][0]["skills"]]
    assert await server.result("skills/extraRoots/set", {"extraRoots": [str(extra)]}) == {}
    await server.notification("skills/changed")
    after = await server.result("skills/list", {"cwds": [str(project)]})
    (deploy,) = [skill for skill in after["data"][0]["skills"] if skill["name"] == "deploy"]
    assert deploy["scope"] == "user" and deploy["path"] == str(extra / "deploy" / "SKILL.md")
    assert await server.result("skills/extraRoots/set", {"extraRoots": []}) == {}
    cleared = await server.result("skills/list", {"cwds": [str(project)]})
    assert "deploy" not in [skill["name"] for skill in cleared["data"][0]["skills"]]
    relative = await server.call("skills/extraRoots/set", {"extraRoots": ["team-skills"]})
    assert relative["error"]["code"] == -32602 and "extraRoots" in relative["error"]["message"]
    server.assert_schema_clean()
