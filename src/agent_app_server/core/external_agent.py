"""Importing another agent's configuration: ``externalAgentConfig/detect|import`` and the import
history (``externalAgentConfig/import/recordHistory|readHistories``).

Owns: what is found of Claude Code's configuration on disk — as the reference detects it — and
where each kind goes here:

- ``CONFIG``: the ``env`` of ``.claude/settings.json`` → ``[shell_environment_policy]``;
- ``MCP_SERVER_CONFIG``: ``mcpServers`` of ``~/.claude.json`` (home) or ``.mcp.json`` (project)
  → ``[mcp_servers]``;
- ``HOOKS``: the ``hooks`` of ``.claude/settings.json`` → ``[hooks]`` (the same shape);
- ``SKILLS``: ``.claude/skills/<name>`` → the skills folder;
- ``COMMANDS``: ``.claude/commands/<name>.md`` → a skill ``source-command-<name>``;
- ``SUBAGENTS``: ``.claude/agents/<name>.md`` → ``agents/<name>.toml``;
- ``AGENTS_MD``: ``~/.claude/CLAUDE.md`` (home) or ``CLAUDE.md`` (project) → ``AGENTS.md``.

For the home (``includeHome``) the sources are under ``~`` and the destinations ``$CODEX_HOME``
(``config.toml``, ``skills``, ``agents``, ``AGENTS.md``); for each absolute ``cwds`` entry they
are its project root's, into ``<root>/.codex`` (``config.toml``, ``skills``, ``agents``) and
``<root>/AGENTS.md``.

Something already present at its destination is not offered again, so a second detection after
an import finds nothing. Skills go where this server discovers them (``skills/list``); the
reference writes them to ``.agents/skills``. The history of imports (ours and the ones a client
records) is kept in ``agent-app-server/external_agent_imports.json``. All of it reads and
writes files: call it from a worker thread.
Layer: core.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .config_edit import CONFIG_FILE_NAME, ConfigWriteError, Edit, atomic_write, project_root, write_user_config

#: Item types in the order the reference offers them for one scope.
DETECT_ORDER = ("CONFIG", "MCP_SERVER_CONFIG", "HOOKS", "SKILLS", "COMMANDS", "SUBAGENTS", "AGENTS_MD")
#: Item types in the order the reference reports a finished import.
RESULT_ORDER = ("CONFIG", "SKILLS", "AGENTS_MD", "MCP_SERVER_CONFIG", "SUBAGENTS", "HOOKS", "COMMANDS")
HISTORY_FILE = "external_agent_imports.json"
COMMAND_SKILL_PREFIX = "source-command-"
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n?(.*)\Z", re.S)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """The ``key: value`` lines of a Markdown file's front matter, and its body."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    fields = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip().strip('"')
    return fields, match.group(2)


@dataclass(frozen=True)
class Scope:
    """Where one detection looks (``cwd`` None: the user's home) and where it writes."""

    cwd: Path | None
    source_root: Path  # ~ (home) or the project root
    claude_dir: Path  # ~/.claude or <root>/.claude
    config_dir: Path  # $CODEX_HOME or <root>/.codex

    @property
    def config_path(self) -> Path:
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def settings(self) -> dict[str, Any]:
        return _read_json(self.claude_dir / "settings.json") or {}

    @property
    def mcp_source(self) -> Path:
        return self.source_root / (".claude.json" if self.cwd is None else ".mcp.json")

    @property
    def agents_md_source(self) -> Path:
        return self.claude_dir / "CLAUDE.md" if self.cwd is None else self.source_root / "CLAUDE.md"

    @property
    def agents_md_target(self) -> Path:
        return self.config_dir / "AGENTS.md" if self.cwd is None else self.source_root / "AGENTS.md"


@dataclass
class Found:
    """One detected migration: its item type, what it moves (names) and how."""

    item_type: str
    description: str
    names: list[str] = field(default_factory=list)
    #: name → (source, target, write); write raises OSError/ValueError/ConfigWriteError on failure.
    moves: dict[str, tuple[str, str, Callable[[], None]]] = field(default_factory=dict)


class ExternalAgentConfig:
    """Detection and import for one server (``$CODEX_HOME``, the user's home, the state dir)."""

    def __init__(self, codex_home: Path, home: Path, state_dir: Path) -> None:
        self.codex_home = codex_home
        self.home = home
        self.history_path = state_dir / HISTORY_FILE

    # ------------------------------------------------------------------ scopes

    def home_scope(self) -> Scope:
        return Scope(None, self.home, self.home / ".claude", self.codex_home)

    def project_scope(self, cwd: str) -> Scope | None:
        path = Path(cwd)
        if not path.is_absolute() or not path.is_dir():
            return None  # as the reference: nothing is detected for it
        root = project_root(path)
        return Scope(root, root, root / ".claude", root / ".codex")

    # ------------------------------------------------------------------ detection

    def detect(self, include_home: bool, cwds: list[str]) -> list[dict[str, Any]]:
        """Wire ``ExternalAgentConfigMigrationItem`` dicts for everything not migrated yet."""
        scopes = [self.home_scope()] if include_home else []
        seen: set[Path] = set()
        for cwd in cwds:
            scope = self.project_scope(cwd)
            if scope is not None and scope.source_root not in seen:
                seen.add(scope.source_root)
                scopes.append(scope)
        return [_item_wire(found, scope) for scope in scopes for found in self.found(scope)]

    def found(self, scope: Scope) -> list[Found]:
        finders = {
            "CONFIG": self._config,
            "MCP_SERVER_CONFIG": self._mcp_servers,
            "HOOKS": self._hooks,
            "SKILLS": self._skills,
            "COMMANDS": self._commands,
            "SUBAGENTS": self._subagents,
            "AGENTS_MD": self._agents_md,
        }
        return [found for kind in DETECT_ORDER if (found := finders[kind](scope)) is not None]

    def _config(self, scope: Scope) -> Found | None:
        env = scope.settings.get("env")
        if not isinstance(env, dict):
            return None
        current = _read_toml(scope.config_path).get("shell_environment_policy", {}).get("set", {})
        missing = {str(k): str(v) for k, v in env.items() if k not in current}
        if not missing:
            return None
        source, target = str(scope.claude_dir / "settings.json"), str(scope.config_path)
        edits = [Edit(f'shell_environment_policy.set."{k}"', v, "replace") for k, v in missing.items()]
        if "inherit" not in _read_toml(scope.config_path).get("shell_environment_policy", {}):
            edits.insert(0, Edit("shell_environment_policy.inherit", "core", "replace"))
        found = Found("CONFIG", f"Migrate {source} into {target}")
        found.moves[source] = (source, target, partial(self._write_config, scope, edits))
        return found

    def _mcp_servers(self, scope: Scope) -> Found | None:
        servers = (_read_json(scope.mcp_source) or {}).get("mcpServers")
        if not isinstance(servers, dict):
            return None
        existing = _read_toml(scope.config_path).get("mcp_servers", {})
        found = Found("MCP_SERVER_CONFIG", f"Migrate MCP servers from {scope.source_root} into {scope.config_path}")
        for name, server in servers.items():
            if name in existing or not isinstance(server, dict):
                continue
            table = _mcp_table(server)
            if table is None:
                continue
            edit = Edit(f'mcp_servers."{name}"', table, "replace")
            found.names.append(name)
            found.moves[name] = (name, name, partial(self._write_config, scope, [edit]))
        return found if found.names else None

    def _hooks(self, scope: Scope) -> Found | None:
        hooks = scope.settings.get("hooks")
        if not isinstance(hooks, dict):
            return None
        existing = _read_toml(scope.config_path).get("hooks", {})
        found = Found("HOOKS", f"Migrate hooks from {scope.claude_dir} to {scope.config_path}")
        for event, groups in hooks.items():
            if event in existing or not isinstance(groups, list):
                continue
            edit = Edit(f'hooks."{event}"', groups, "replace")
            found.names.append(event)
            found.moves[event] = (event, event, partial(self._write_config, scope, [edit]))
        return found if found.names else None

    def _skills_dir(self, scope: Scope) -> Path:
        return self.codex_home / "skills" if scope.cwd is None else scope.config_dir / "skills"

    def _skills(self, scope: Scope) -> Found | None:
        source_dir = scope.claude_dir / "skills"
        target_dir = self._skills_dir(scope)
        found = Found("SKILLS", f"Migrate skills from {source_dir} to {target_dir}")
        for skill in sorted(_subdirs(source_dir)):
            if not (skill / "SKILL.md").is_file() or (target_dir / skill.name).exists():
                continue
            found.names.append(skill.name)
            found.moves[skill.name] = (skill.name, skill.name, partial(_copy_tree, skill, target_dir / skill.name))
        return found if found.names else None

    def _commands(self, scope: Scope) -> Found | None:
        source_dir = scope.claude_dir / "commands"
        target_dir = self._skills_dir(scope)
        found = Found("COMMANDS", f"Migrate commands from {source_dir} to {target_dir}")
        for command in sorted(_files(source_dir, ".md")):
            name = COMMAND_SKILL_PREFIX + command.stem
            if (target_dir / name).exists():
                continue
            found.names.append(name)
            found.moves[name] = (name, name, partial(_write_command_skill, command, target_dir / name))
        return found if found.names else None

    def _subagents(self, scope: Scope) -> Found | None:
        source_dir = scope.claude_dir / "agents"
        target_dir = scope.config_dir / "agents"
        found = Found("SUBAGENTS", f"Migrate subagents from {source_dir} to {target_dir}")
        for agent in sorted(_files(source_dir, ".md")):
            if (target_dir / f"{agent.stem}.toml").exists():
                continue
            found.names.append(agent.stem)
            found.moves[agent.stem] = (
                agent.stem,
                agent.stem,
                partial(_write_subagent, agent, target_dir / f"{agent.stem}.toml"),
            )
        return found if found.names else None

    def _agents_md(self, scope: Scope) -> Found | None:
        source, target = scope.agents_md_source, scope.agents_md_target
        if not source.is_file() or target.exists():
            return None
        found = Found("AGENTS_MD", f"Migrate {source} to {target}")
        found.moves[str(source)] = (str(source), str(target), partial(_copy_file, source, target))
        return found

    def _write_config(self, scope: Scope, edits: list[Edit]) -> None:
        write_user_config(scope.config_dir, edits)

    # ------------------------------------------------------------------ import

    def run_import(self, items: list[dict[str, Any]], report: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
        """Migrate each requested item (as detection finds it now), calling ``report`` with each
        item's ``ExternalAgentConfigImportTypeResult``; the results grouped by type, as the
        reference's ``completed``."""
        grouped: dict[str, dict[str, Any]] = {}
        for item in items:
            result = self._import_item(item)
            report(result)
            entry = grouped.setdefault(
                result["itemType"], {"itemType": result["itemType"], "successes": [], "failures": []}
            )
            entry["successes"] += result["successes"]
            entry["failures"] += result["failures"]
        order = [*RESULT_ORDER, *(kind for kind in grouped if kind not in RESULT_ORDER)]
        return [grouped[kind] for kind in order if kind in grouped]

    def _import_item(self, item: dict[str, Any]) -> dict[str, Any]:
        kind = item["itemType"]
        cwd = item.get("cwd") or None
        result: dict[str, Any] = {"itemType": kind, "successes": [], "failures": []}
        scope = self.home_scope() if cwd is None else self.project_scope(cwd)
        if scope is None:
            result["failures"].append(
                _failure(kind, cwd, None, "detect", f"`cwd` {cwd} is not an existing absolute directory")
            )
            return result
        found = next((f for f in self.found(scope) if f.item_type == kind), None)
        if found is None:
            return result  # nothing left to migrate (already done, or not supported here)
        wanted = _detail_names(item, kind)
        for name, (source, target, write) in found.moves.items():
            if wanted is not None and name not in wanted:
                continue
            try:
                write()
            except (OSError, ValueError, ConfigWriteError) as exc:
                result["failures"].append(_failure(kind, cwd, source, "write", str(exc)))
                continue
            result["successes"].append(
                {"itemType": kind, "cwd": cwd, "source": source, "target": target, "title": None}
            )
        return result

    # ------------------------------------------------------------------ history

    def record(self, provider_id: str | None, results: list[dict[str, Any]], import_id: str | None = None) -> str:
        """Add a finished import to the history; its id."""
        import_id = import_id or str(uuid.uuid4())
        successes = [
            {"title": None, "cwd": None, "source": None, "target": None, **success}
            for result in results
            for success in result["successes"]
        ]
        failures = [failure for result in results for failure in result["failures"]]
        entry = {
            "importId": import_id,
            "providerId": provider_id,
            "completedAtMs": time.time_ns() // 1_000_000,
            "successes": successes,
            "failures": failures,
        }
        atomic_write(self.history_path, json.dumps([entry, *self.histories()], ensure_ascii=False))
        return import_id

    def histories(self) -> list[dict[str, Any]]:
        """Recorded imports, newest first."""
        try:
            data = json.loads(self.history_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            # A damaged history is kept aside for the user, not silently overwritten.
            os.replace(self.history_path, self.history_path.with_suffix(".damaged.json"))
            return []
        return data if isinstance(data, list) else []


def _item_wire(found: Found, scope: Scope) -> dict[str, Any]:
    details: dict[str, list[dict[str, str]]] | None = None
    list_key = {
        "MCP_SERVER_CONFIG": "mcpServers",
        "HOOKS": "hooks",
        "SKILLS": "skills",
        "COMMANDS": "commands",
        "SUBAGENTS": "subagents",
    }.get(found.item_type)
    if list_key is not None:
        details = {key: [] for key in ("plugins", "skills", "sessions", "mcpServers", "hooks", "subagents", "commands")}
        details[list_key] = [{"name": name} for name in found.names]
    return {
        "itemType": found.item_type,
        "description": found.description,
        "cwd": None if scope.cwd is None else str(scope.cwd),
        "details": details,
    }


def _detail_names(item: dict[str, Any], kind: str) -> set[str] | None:
    """The names an item's ``details`` selects (None: everything detected for its type)."""
    details = item.get("details")
    key = {"MCP_SERVER_CONFIG": "mcpServers", "HOOKS": "hooks", "SKILLS": "skills", "COMMANDS": "commands"}.get(kind)
    key = key or ("subagents" if kind == "SUBAGENTS" else None)
    if not isinstance(details, dict) or key is None or not details.get(key):
        return None
    return {str(entry.get("name")) for entry in details[key] if isinstance(entry, dict)}


def _failure(kind: str, cwd: str | None, source: str | None, stage: str, message: str) -> dict[str, Any]:
    return {
        "itemType": kind,
        "cwd": cwd,
        "source": source,
        "failureStage": stage,
        "message": message,
        "errorType": None,
        "subErrorType": None,
    }


def _mcp_table(server: dict[str, Any]) -> dict[str, Any] | None:
    """A Claude MCP server entry as a ``[mcp_servers.<name>]`` table (None: not one we can run)."""
    if isinstance(server.get("command"), str):
        table: dict[str, Any] = {"command": server["command"]}
        if isinstance(server.get("args"), list):
            table["args"] = [str(arg) for arg in server["args"]]
        if isinstance(server.get("env"), dict) and server["env"]:
            table["env"] = {str(k): str(v) for k, v in server["env"].items()}
        return table
    if isinstance(server.get("url"), str):
        return {"url": server["url"]}
    return None


def _subdirs(path: Path) -> list[Path]:
    try:
        return [child for child in path.iterdir() if child.is_dir() and not child.name.startswith(".")]
    except OSError:
        return []


def _files(path: Path, suffix: str) -> list[Path]:
    try:
        return [child for child in path.iterdir() if child.is_file() and child.suffix == suffix]
    except OSError:
        return []


def _copy_file(source: Path, target: Path) -> None:
    atomic_write(target, source.read_text(encoding="utf-8"))


def _copy_tree(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target, symlinks=True)


def _write_command_skill(command: Path, target: Path) -> None:
    fields, body = _front_matter(command.read_text(encoding="utf-8"))
    name = target.name
    description = fields.get("description") or f"Migrated source command `{command.stem}`"
    text = (
        f"---\nname: {json.dumps(name)}\ndescription: {json.dumps(description)}\n---\n\n# {name}\n\n"
        f"Use this skill when the user asks to run the migrated source command `{command.stem}`.\n\n"
        f"## Command Template\n\n{body.strip()}\n"
    )
    atomic_write(target / "SKILL.md", text)


def _write_subagent(agent: Path, target: Path) -> None:
    import tomlkit

    fields, body = _front_matter(agent.read_text(encoding="utf-8"))
    document = tomlkit.document()
    document["name"] = fields.get("name") or agent.stem
    if fields.get("description"):
        document["description"] = fields["description"]
    document["developer_instructions"] = body.strip()
    atomic_write(target, tomlkit.dumps(document))
