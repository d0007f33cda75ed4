"""Skills and hooks: what ``skills/list`` and ``hooks/list`` report, and noticing skill changes.

Owns: discovering ``SKILL.md`` files (``<cwd and ancestors up to the project root>/.codex/skills``:
scope ``repo``; ``$CODEX_HOME/skills``: scope ``user``, its ``.system`` folder: scope ``system``;
installed, enabled plugins' skill folders (``core.plugins``): scope ``user``, named ``plugin:skill``),
reading their YAML front matter (``name`` — the folder's name when absent — ``description``,
``metadata.short-description``), one error per unreadable file, the ``[[skills.config]]``
enable/disable entries, a per-cwd cache with a fingerprint of the files so that changes are seen
(``SkillsWatcher`` polls the roots that have been listed and calls back when they change), and
the hooks configured under ``[hooks]`` in config.toml and trusted project config files.
Discovery blocks on the file system: call it from a worker thread.
Layer: core.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_edit import (
    CONFIG_FILE_NAME,
    ConfigWriteError,
    atomic_write,
    is_trusted,
    project_dirs,
    project_root,
    user_config_path,
    validate_values,
)

log = logging.getLogger(__name__)

SKILL_FILE = "SKILL.md"
SKILLS_DIR = "skills"
SYSTEM_DIR = ".system"
MAX_DEPTH = 6
MAX_SKILL_FILE_BYTES = 1024 * 1024
POLL_INTERVAL_S = 1.0
SCOPE_ORDER = {"repo": 0, "user": 1, "system": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Root:
    path: Path
    scope: str
    #: ``plugin@marketplace`` when the root belongs to an installed plugin (its skills are
    #: named ``plugin:skill``).
    plugin_id: str | None = None


@dataclass
class Discovery:
    """One cwd's skills (wire ``SkillMetadata`` dicts) and errors, with the fingerprint they match."""

    skills: list[dict[str, Any]]
    errors: list[dict[str, str]]
    fingerprint: tuple[Any, ...]


def skill_roots(codex_home: Path, cwd: Path, extra: Sequence[Path] = ()) -> list[Root]:
    """Where skills are found for ``cwd``: the repo's, the user's, ``extra`` (the client's own,
    ``skills/extraRoots/set``, user scope) and the system's."""
    roots = [Root(folder / SKILLS_DIR, "repo") for folder in _dot_codex_folders(cwd)]
    roots.append(Root(codex_home / SKILLS_DIR, "user"))
    roots += [Root(path, "user") for path in extra]
    roots += _plugin_roots(codex_home)
    roots.append(Root(codex_home / SKILLS_DIR / SYSTEM_DIR, "system"))
    return roots


def _plugin_roots(codex_home: Path) -> list[Root]:
    """The skill folders of installed, enabled plugins (user scope, as the reference)."""
    from .plugins import PluginError, enabled_plugins, read_user_config

    try:
        values = read_user_config(codex_home)
    except PluginError:
        return []
    return [
        Root(directory, "user", plugin.plugin_id)
        for plugin in enabled_plugins(codex_home, values)
        for directory in plugin.manifest.skill_dirs
    ]


def _dot_codex_folders(cwd: Path) -> list[Path]:
    root = project_root(cwd)
    found = []
    for directory in (cwd, *cwd.parents):
        candidate = directory / ".codex"
        if candidate.is_dir():
            found.append(candidate)
        if directory == root:
            break
    return found


def _skill_files(root: Root) -> list[Path]:
    return skill_files(root.path)


def skill_files(folder: Path) -> list[Path]:
    """Every SKILL.md under ``folder`` (hidden folders skipped, at most MAX_DEPTH down)."""
    found: list[Path] = []
    base_depth = len(folder.parts)
    for directory, dirs, files in os.walk(folder, followlinks=False):
        depth = len(Path(directory).parts) - base_depth
        # Hidden folders are not skills; the user root's `.system` folder is its own root.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < MAX_DEPTH else []
        if SKILL_FILE in files:
            found.append(Path(directory) / SKILL_FILE)
    return found


def fingerprint(roots: list[Root], extra: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    """Changes when a skill file is added, removed or edited under any root."""
    parts: list[Any] = list(extra)
    for root in roots:
        for path in _skill_files(root):
            try:
                stat = path.stat()
            except OSError:
                continue
            parts.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(parts)


def parse_front_matter(text: str) -> dict[str, Any]:
    """The YAML between the leading ``---`` lines; ValueError says what is wrong."""
    import yaml

    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ValueError("missing YAML frontmatter delimited by ---")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            break
    else:
        raise ValueError("missing YAML frontmatter delimited by --- (no closing ---)")
    try:
        data = yaml.safe_load("\n".join(lines[1:index]))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML frontmatter: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("invalid YAML frontmatter: expected key: value pairs")
    return data


def load_skill(path: Path, scope: str, plugin_id: str | None = None) -> dict[str, Any]:
    """The wire ``SkillMetadata`` of one SKILL.md (``enabled`` filled in later); a plugin's
    skills are named ``plugin:skill``."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_SKILL_FILE_BYTES + 1)
    if len(raw) > MAX_SKILL_FILE_BYTES:
        raise ValueError(f"SKILL.md is larger than {MAX_SKILL_FILE_BYTES} bytes")
    front = parse_front_matter(raw.decode("utf-8", errors="replace"))
    name = front.get("name", path.parent.name)
    description = front.get("description")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("`name` must be a non-empty string")
    if description is None:
        raise ValueError("missing field `description` in the frontmatter")
    if not isinstance(description, str):
        raise ValueError("`description` must be a string")
    metadata = front.get("metadata")
    short = metadata.get("short-description") if isinstance(metadata, dict) else None
    prefix = f"{plugin_id.partition('@')[0]}:" if plugin_id is not None else ""
    return {
        "name": prefix + name.strip(),
        "description": description.strip(),
        "shortDescription": short if isinstance(short, str) else None,
        "path": str(path),
        "scope": scope,
        "enabled": True,
        "pluginId": plugin_id,
    }


def disabled_skills(config_values: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names and paths disabled by ``[[skills.config]]`` entries (``enabled = false``)."""
    names: set[str] = set()
    paths: set[str] = set()
    skills = config_values.get("skills")
    entries = skills.get("config") if isinstance(skills, dict) else None
    if isinstance(entries, list):
        for entry in entries:
            if isinstance(entry, dict) and entry.get("enabled") is False:
                if isinstance(entry.get("name"), str):
                    names.add(entry["name"])
                if isinstance(entry.get("path"), str):
                    paths.add(str(Path(entry["path"])))
    return names, paths


def discover(codex_home: Path, cwd: Path, config_values: dict[str, Any], extra: Sequence[Path] = ()) -> Discovery:
    roots = skill_roots(codex_home, cwd, extra)
    skills: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for root in roots:
        for path in _skill_files(root):
            if str(path) in seen:
                continue
            seen.add(str(path))
            try:
                skills.append(load_skill(path, root.scope, root.plugin_id))
            except (OSError, ValueError) as exc:
                errors.append({"path": str(path), "message": str(exc)})
    names, paths = disabled_skills(config_values)
    for skill in skills:
        skill["enabled"] = skill["name"] not in names and skill["path"] not in paths
    skills.sort(key=lambda skill: (SCOPE_ORDER.get(skill["scope"], 9), skill["name"], skill["path"]))
    return Discovery(skills, errors, fingerprint(roots))


@dataclass
class SkillsCache:
    """Discovered skills per cwd; ``watch`` polls their roots and reports changes."""

    codex_home: Path
    entries: dict[str, Discovery] = field(default_factory=dict)
    watcher: asyncio.Task[None] | None = None
    #: Roots a client added (``skills/extraRoots/set``), searched for every cwd.
    extra_roots: list[Path] = field(default_factory=list)

    def set_extra_roots(self, roots: list[Path]) -> None:
        """Replace the client-added roots; every cwd's skills are found again on the next list."""
        self.extra_roots = list(roots)
        self.entries.clear()

    async def list(self, cwd: Path, config_values: dict[str, Any], force: bool) -> Discovery:
        key = str(cwd)
        cached = self.entries.get(key)
        if cached is not None and not force:
            current = await asyncio.to_thread(self._fingerprint, cwd)
            if current == cached.fingerprint:
                names, paths = disabled_skills(config_values)
                for skill in cached.skills:
                    skill["enabled"] = skill["name"] not in names and skill["path"] not in paths
                return cached
        found = await asyncio.to_thread(discover, self.codex_home, cwd, config_values, self.extra_roots)
        self.entries[key] = found
        return found

    def _fingerprint(self, cwd: Path) -> tuple[Any, ...]:
        # The roots themselves come from the disk (folders, installed plugins): off the loop too.
        return fingerprint(skill_roots(self.codex_home, cwd, self.extra_roots))

    def watch(self, on_change: Callable[[], None], interval_s: float = POLL_INTERVAL_S) -> None:
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.create_task(self._poll(on_change, interval_s))

    async def _poll(self, on_change: Callable[[], None], interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            changed = False
            for key, found in list(self.entries.items()):
                try:
                    current = await asyncio.to_thread(self._fingerprint, Path(key))
                except OSError:
                    continue
                if current != found.fingerprint:
                    # Forget it: the next skills/list rediscovers; report the change once.
                    self.entries.pop(key, None)
                    changed = True
            if changed:
                on_change()

    async def aclose(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher


def write_skill_enabled(codex_home: Path, name: str | None, path: str | None, enabled: bool) -> None:
    """Set ``enabled`` in the ``[[skills.config]]`` entry for this skill (added when missing),
    keeping the rest of config.toml as written."""
    import tomlkit

    file = user_config_path(codex_home)
    try:
        original = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        original = ""
    try:
        document = tomlkit.parse(original)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigWriteError("configValidationError", f"{file} is not valid TOML ({exc}); fix it by hand") from None
    skills = document.get("skills")
    if skills is None:
        document["skills"] = tomlkit.table(is_super_table=True)
        skills = document["skills"]
    if not isinstance(skills, dict):
        raise ConfigWriteError("configValidationError", f"`skills` in {file} is a value, not a table")
    entries = skills.get("config")
    if entries is None:
        skills["config"] = tomlkit.aot()
        entries = skills["config"]
    if not isinstance(entries, list):
        raise ConfigWriteError("configValidationError", f"`skills.config` in {file} must be an array of tables")
    key, value = ("name", name) if name is not None else ("path", path)
    for entry in entries:
        if isinstance(entry, dict) and entry.get(key) == value:
            entry["enabled"] = enabled
            break
    else:
        entry = tomlkit.table()
        entry[key] = value
        entry["enabled"] = enabled
        entries.append(entry)
    text = tomlkit.dumps(document)
    try:
        validate_values(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigWriteError("configValidationError", f"the edit would make {file} invalid TOML ({exc})") from None
    atomic_write(file, text)


# ---------------------------------------------------------------------- hooks

#: config.toml's event tables → the wire ``HookEventName``.
HOOK_EVENTS = {
    "PreModelRequest": "preModelRequest",
    "PostModelRequest": "postModelRequest",
    "PreToolUse": "preToolUse",
    "PermissionRequest": "permissionRequest",
    "PostToolUse": "postToolUse",
    "PreCompact": "preCompact",
    "PostCompact": "postCompact",
    "SessionStart": "sessionStart",
    "SessionEnd": "sessionEnd",
    "UserPromptSubmit": "userPromptSubmit",
    "SubagentStart": "subagentStart",
    "SubagentStop": "subagentStop",
    "Stop": "stop",
    "Interrupt": "interrupt",
}
DEFAULT_HOOK_TIMEOUT_S = 600


def snake_case(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name).lstrip("_")


def list_hooks(codex_home: Path, cwd: Path) -> tuple[list[dict[str, Any]], list[str], list[dict[str, str]]]:
    """Configured hooks (wire ``HookMetadata``), warnings and per-file errors, for one cwd."""
    user_path = codex_home / CONFIG_FILE_NAME
    hooks: list[dict[str, Any]] = []
    warnings: list[str] = []
    errors: list[dict[str, str]] = []
    user_values: dict[str, Any] = {}
    sources: list[tuple[Path, str]] = []
    try:
        user_values = tomllib.loads(user_path.read_text(encoding="utf-8"))
        sources.append((user_path, "user"))
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        errors.append({"path": str(user_path), "message": str(exc)})
    trusted = is_trusted(user_values, project_root(cwd)) or is_trusted(user_values, cwd)
    user_hooks = user_values.get("hooks")
    trust = user_hooks.get(HOOK_TRUST_TABLE) if isinstance(user_hooks, dict) else None
    trust = trust if isinstance(trust, dict) else {}
    for folder in reversed(project_dirs(cwd)):
        if trusted:
            sources.append((folder / CONFIG_FILE_NAME, "project"))
        else:
            warnings.append(f"Hooks in {folder / CONFIG_FILE_NAME} are ignored until the project is trusted.")
    order = 0
    for path, source in sources:
        try:
            values = user_values if path == user_path else tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            errors.append({"path": str(path), "message": str(exc)})
            continue
        table = values.get("hooks")
        if not isinstance(table, dict):
            continue
        # The reference numbers a file's handlers event by event, in its own order of events.
        order_of = {name: index for index, name in enumerate(HOOK_EVENTS)}
        for event, groups in sorted(table.items(), key=lambda entry: order_of.get(entry[0], len(order_of))):
            if event == HOOK_TRUST_TABLE:
                continue
            wire_event = HOOK_EVENTS.get(event)
            if wire_event is None:
                warnings.append(f"{path}: unknown hook event `{event}` ignored")
                continue
            if not isinstance(groups, list):
                errors.append({"path": str(path), "message": f"`hooks.{event}` must be an array of tables"})
                continue
            for group_index, group in enumerate(groups):
                handlers = group.get("hooks") if isinstance(group, dict) else None
                if not isinstance(handlers, list):
                    errors.append(
                        {"path": str(path), "message": f"`hooks.{event}[{group_index}].hooks` must be an array"}
                    )
                    continue
                matcher = group.get("matcher") if isinstance(group.get("matcher"), str) else None
                for handler_index, handler in enumerate(handlers):
                    entry = _hook_entry(handler, path, source, wire_event, event, matcher, group_index, handler_index)
                    if isinstance(entry, str):
                        errors.append({"path": str(path), "message": entry})
                        continue
                    entry["displayOrder"] = order
                    entry["trustStatus"] = _trust_status(trust, entry["key"], entry["currentHash"])
                    order += 1
                    hooks.append(entry)
    for entry in _plugin_hooks(codex_home, user_values, errors):
        entry["displayOrder"] = order
        # A plugin's hook is trusted, as any other, under its own key.
        entry["trustStatus"] = _trust_status(trust, entry["key"], entry["currentHash"])
        order += 1
        hooks.append(entry)
    return hooks, warnings, errors


def _plugin_hooks(codex_home: Path, user_values: dict[str, Any], errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The hooks of installed, enabled plugins (source ``plugin``), keyed as the reference keys them."""
    from .plugins import enabled_plugins, plugin_hook_handlers

    entries = []
    for plugin in enabled_plugins(codex_home, user_values):
        for hook in plugin_hook_handlers(plugin.plugin_id, plugin.manifest):
            path = hook.source.path
            entry = _hook_entry(
                hook.handler,
                path,
                "plugin",
                hook.wire_event,
                hook.event,
                hook.matcher,
                hook.group_index,
                hook.handler_index,
            )
            if isinstance(entry, str):
                errors.append({"path": str(path), "message": entry})
            else:
                entries.append({**entry, "key": hook.key, "pluginId": plugin.plugin_id})
    return entries


#: ``[hooks.state."<key>"] trusted_hash = "<currentHash>"`` in the user's config.toml: a hook
#: runs only while the hash of its definition is the one its user trusted.
HOOK_TRUST_TABLE = "state"


def _trust_status(trust: dict[str, Any], key: str, current_hash: str) -> str:
    state = trust.get(key)
    trusted_hash = state.get("trusted_hash") if isinstance(state, dict) else None
    if not isinstance(trusted_hash, str):
        return "untrusted"
    return "trusted" if trusted_hash == current_hash else "modified"


def _hook_entry(
    handler: Any,
    path: Path,
    source: str,
    wire_event: str,
    event: str,
    matcher: str | None,
    group_index: int,
    handler_index: int,
) -> dict[str, Any] | str:
    where = f"`hooks.{event}[{group_index}].hooks[{handler_index}]`"
    if not isinstance(handler, dict):
        return f"{where} must be a table"
    kind = handler.get("type", "command")
    timeout = handler.get("timeout", handler.get("timeout_sec", DEFAULT_HOOK_TIMEOUT_S))
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        return f"{where}: `timeout` must be a non-negative integer (seconds)"
    status = handler.get("statusMessage", handler.get("status_message"))
    common: dict[str, Any] = {
        "key": f"{path}:{snake_case(event)}:{group_index}:{handler_index}",
        "eventName": wire_event,
        "matcher": matcher,
        "timeoutSec": timeout,
        "statusMessage": status if isinstance(status, str) else None,
        "additionalContextLimit": None,
        "sourcePath": str(path),
        "source": source,
        "pluginId": None,
        "environmentId": None,
        "enabled": handler.get("enabled", True) is not False,
        "isManaged": False,
        "currentHash": "sha256:"
        + hashlib.sha256(json.dumps(handler, sort_keys=True, default=str).encode()).hexdigest(),
    }
    if kind == "command":
        command = handler.get("command")
        if not isinstance(command, str) or not command:
            return f"{where}: a command hook needs `command` (a string)"
        return {**common, "handlerType": "command", "command": command, "async": handler.get("async") is True}
    if kind == "mcp_tool":
        server, tool = handler.get("server"), handler.get("tool")
        if not isinstance(server, str) or not isinstance(tool, str):
            return f"{where}: an mcp_tool hook needs `server` and `tool`"
        return {**common, "handlerType": "mcpTool", "server": server, "tool": tool}
    if kind in ("prompt", "agent"):
        return {**common, "handlerType": kind}
    return f"{where}: unknown hook type `{kind}`"
