"""externalAgentConfig/* through a real server process: Claude Code's configuration in a home and
a project is detected as the reference detects it, imported where this server reads it (with
progress per item, then completion), not offered again, and kept in the import history."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from support.server_process import ServerClient, Spawn


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def claude(tmp_path: Path) -> tuple[Path, Path]:
    """A home and a project configured for Claude Code."""
    home, project = tmp_path / "home", tmp_path / "project"
    _write(home / ".claude" / "CLAUDE.md", "# Global rules\nUse tabs.\n")
    settings = {
        "model": "claude-opus",
        "env": {"FOO": "bar"},
        "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo hi"}]}]},
    }
    _write(home / ".claude" / "settings.json", json.dumps(settings))
    _write(home / ".claude" / "skills" / "greet" / "SKILL.md", "---\nname: greet\ndescription: Say hi\n---\nSay hi.\n")
    _write(
        home / ".claude" / "agents" / "reviewer.md", "---\nname: reviewer\ndescription: Reviews\n---\nReview code.\n"
    )
    _write(home / ".claude" / "commands" / "deploy.md", "Deploy the app.\n")
    servers = {
        "fs": {"command": "npx", "args": ["-y", "server-fs"]},
        "remote": {"type": "http", "url": "https://example.com/mcp"},
    }
    _write(home / ".claude.json", json.dumps({"mcpServers": servers}))
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    _write(project / "CLAUDE.md", "# Project rules\nRun make test.\n")
    _write(
        project / ".mcp.json",
        json.dumps({"mcpServers": {"local": {"command": "python", "args": ["srv.py"], "env": {"A": "1"}}}}),
    )
    _write(project / ".claude" / "commands" / "build.md", "Build.\n")
    return home, project


async def _server(spawn: Spawn, home: Path) -> ServerClient:
    server = await spawn(process=True, env={"HOME": str(home)})
    await server.initialize()
    return server


@pytest.mark.compat("externalAgent:destinations")
async def test_detect_import_and_history(spawn: Spawn, codex_home: Path, claude: tuple[Path, Path]) -> None:
    home, project = claude
    server = await _server(spawn, home)
    detected = await server.result("externalAgentConfig/detect", {"includeHome": True, "cwds": [str(project)]})
    assert detected["connectors"] == []
    summary = [(item["itemType"], item["cwd"]) for item in detected["items"]]
    assert summary == [
        ("CONFIG", None),
        ("MCP_SERVER_CONFIG", None),
        ("HOOKS", None),
        ("SKILLS", None),
        ("COMMANDS", None),
        ("SUBAGENTS", None),
        ("AGENTS_MD", None),
        ("MCP_SERVER_CONFIG", str(project)),
        ("COMMANDS", str(project)),
        ("AGENTS_MD", str(project)),
    ]
    by_type = {(item["itemType"], item["cwd"]): item for item in detected["items"]}
    assert by_type[("MCP_SERVER_CONFIG", None)]["details"]["mcpServers"] == [{"name": "fs"}, {"name": "remote"}]
    assert by_type[("COMMANDS", None)]["details"]["commands"] == [{"name": "source-command-deploy"}]
    assert by_type[("AGENTS_MD", None)]["description"] == (
        f"Migrate {home / '.claude' / 'CLAUDE.md'} to {codex_home / 'AGENTS.md'}"
    )
    # Only the home, only a project, and a relative path (nothing, as the reference).
    only_home = await server.result("externalAgentConfig/detect", {"includeHome": True})
    assert len(only_home["items"]) == 7
    assert (await server.result("externalAgentConfig/detect", {"cwds": ["relative/path"]}))["items"] == []

    reply = await server.result(
        "externalAgentConfig/import", {"migrationItems": detected["items"], "providerId": "claude"}
    )
    import_id = reply["importId"]
    progress: list[dict[str, Any]] = []
    while True:
        message = await server.notification()
        if message["method"] == "externalAgentConfig/import/progress":
            progress.append(message["params"])
        elif message["method"] == "externalAgentConfig/import/completed":
            completed = message["params"]
            break
    assert [p["importId"] for p in progress] == [import_id] * 10
    assert [p["itemTypeResults"][0]["itemType"] for p in progress] == [t for t, _ in summary]
    assert completed["importId"] == import_id
    # Grouped by type, in the reference's order.
    assert [r["itemType"] for r in completed["itemTypeResults"]] == [
        "CONFIG",
        "SKILLS",
        "AGENTS_MD",
        "MCP_SERVER_CONFIG",
        "SUBAGENTS",
        "HOOKS",
        "COMMANDS",
    ]
    assert all(not r["failures"] for r in completed["itemTypeResults"])

    config = tomllib.loads((codex_home / "config.toml").read_text())
    assert config["shell_environment_policy"] == {"inherit": "core", "set": {"FOO": "bar"}}
    assert config["mcp_servers"]["fs"] == {"command": "npx", "args": ["-y", "server-fs"]}
    assert config["mcp_servers"]["remote"] == {"url": "https://example.com/mcp"}
    assert config["hooks"]["PreToolUse"][0]["hooks"][0]["command"] == "echo hi"
    assert (codex_home / "AGENTS.md").read_text() == "# Global rules\nUse tabs.\n"
    agent = tomllib.loads((codex_home / "agents" / "reviewer.toml").read_text())
    assert agent == {"name": "reviewer", "description": "Reviews", "developer_instructions": "Review code."}
    command_skill = (codex_home / "skills" / "source-command-deploy" / "SKILL.md").read_text()
    assert command_skill.startswith('---\nname: "source-command-deploy"\n') and command_skill.endswith(
        "Deploy the app.\n"
    )
    project_config = tomllib.loads((project / ".codex" / "config.toml").read_text())
    assert project_config["mcp_servers"]["local"] == {"command": "python", "args": ["srv.py"], "env": {"A": "1"}}
    assert (project / "AGENTS.md").read_text().startswith("# Project rules")

    # Imported skills are where this server finds them.
    skills = await server.result("skills/list", {"cwds": [str(project)]})
    names = {skill["name"] for entry in skills["data"] for skill in entry["skills"]}
    assert {"greet", "source-command-deploy", "source-command-build"} <= names

    again = await server.result("externalAgentConfig/detect", {"includeHome": True, "cwds": [str(project)]})
    assert again["items"] == [], "what was imported is not offered again"

    recorded = await server.result(
        "externalAgentConfig/import/recordHistory",
        {
            "providerId": "other-tool",
            "itemTypeResults": [
                {
                    "itemType": "SKILLS",
                    "successes": [{"itemType": "SKILLS", "source": "a", "target": "a"}],
                    "failures": [],
                }
            ],
        },
    )
    histories = await server.result("externalAgentConfig/import/readHistories", None)
    assert [h["importId"] for h in histories["data"]] == [recorded["importId"], import_id]
    assert histories["data"][0]["successes"] == [
        {"itemType": "SKILLS", "cwd": None, "source": "a", "target": "a", "title": None}
    ]
    assert histories["data"][1]["providerId"] == "claude" and len(histories["data"][1]["successes"]) == 11
    assert histories["connectors"] == []


async def test_an_item_that_cannot_be_written_is_a_failure_of_its_own(
    spawn: Spawn, codex_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    _write(home / ".claude" / "CLAUDE.md", "rules\n")
    _write(home / ".claude" / "agents" / "reviewer.md", "Review.\n")
    (codex_home / "agents").write_text("a file where the agents folder should be\n")
    server = await _server(spawn, home)
    detected = await server.result("externalAgentConfig/detect", {"includeHome": True})
    await server.result("externalAgentConfig/import", {"migrationItems": detected["items"]})
    completed = (await server.notification("externalAgentConfig/import/completed"))["params"]
    results = {r["itemType"]: r for r in completed["itemTypeResults"]}
    (failure,) = results["SUBAGENTS"]["failures"]
    assert failure["failureStage"] == "write" and failure["source"] == "reviewer" and failure["message"]
    assert results["AGENTS_MD"]["successes"][0]["target"] == str(codex_home / "AGENTS.md")
