"""Plugins from marketplaces on disk: manifests, discovery, install state, install and uninstall.

Owns: reading a marketplace manifest (``<root>/.agents/plugins/marketplace.json`` or
``<root>/.claude-plugin/marketplace.json``) and a plugin manifest (``<plugin>/.codex-plugin/plugin.json``
or ``.claude-plugin/plugin.json``); which marketplaces a request sees (``$HOME``'s, the ones added
with ``marketplace/add`` — ``[marketplaces.NAME]`` in config.toml —, and those of the client's
``cwds`` or their git repository roots); a plugin's wire summary and detail; installing (a copy
under ``$CODEX_HOME/plugins/cache/<marketplace>/<plugin>/<version>`` plus
``[plugins."<plugin>@<marketplace>"] enabled = true``) and uninstalling; and what installed,
enabled plugins bring to the rest of the server: skill folders and MCP server tables. The layout
on disk is the reference's, so either server reads what the other installed.

Every function here blocks on the file system: call them from a worker thread. Errors a client
can fix are :class:`PluginError` (its message says what to fix).
Layer: core.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config_edit import ConfigWriteError, Edit, user_config_path, write_user_config

MARKETPLACE_MANIFESTS = (".agents/plugins/marketplace.json", ".claude-plugin/marketplace.json")
PLUGIN_MANIFESTS = (".codex-plugin/plugin.json", ".claude-plugin/plugin.json")
PLUGINS_CACHE_DIR = Path("plugins") / "cache"
DEFAULT_HOOKS_FILE = Path("hooks") / "hooks.json"
#: Git marketplaces are cloned here, one folder per marketplace name.
INSTALLED_MARKETPLACES_DIR = Path(".tmp") / "marketplaces"
#: A plugin whose manifest names no version is installed as this one.
DEFAULT_PLUGIN_VERSION = "local"
#: The name of OpenAI's own curated marketplace, which no other source may take.
RESERVED_MARKETPLACE = "openai-curated"
_VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+")
_SEGMENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_MAX_DEFAULT_PROMPTS = 3
_MAX_DEFAULT_PROMPT_CHARS = 128


class PluginError(Exception):
    """A request that cannot be honoured as sent (``-32600`` on the wire)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PluginInternalError(PluginError):
    """The request was fine but the machine failed it (a git command, the disk): ``-32603``."""


def validate_segment(value: str, what: str) -> str:
    """A marketplace or plugin name, safe as a folder name."""
    if not value:
        raise PluginError(f"invalid {what}: must not be empty")
    if not set(value) <= _SEGMENT_CHARS:
        raise PluginError(f"invalid {what}: only ASCII letters, digits, `_`, and `-` are allowed")
    return value


# ---------------------------------------------------------------------- manifests


@dataclass(frozen=True, slots=True)
class PluginManifest:
    root: Path
    name: str
    version: str | None
    description: str | None
    keywords: tuple[str, ...]
    skill_dirs: tuple[Path, ...]
    #: ``mcpServers``: a path to a JSON file, an inline object, or None (then ``<root>/.mcp.json``).
    mcp_servers: Path | dict[str, Any] | None
    interface: dict[str, Any] | None
    #: Hook files or inline hook tables of the manifest's ``hooks``; None: ``hooks/hooks.json``.
    hooks: tuple[Path, ...] | tuple[dict[str, Any], ...] | None = None


def find_manifest(root: Path, candidates: Sequence[str]) -> Path | None:
    # Plain strings: listing a few hundred plugins makes thousands of these lookups, and building
    # a pathlib.Path for each costs more than the stat.
    base = str(root)
    for relative in candidates:
        candidate = os.path.join(base, relative)
        if os.path.isfile(candidate):
            return Path(candidate)
    return None


def _manifest_path(root: Path, value: Any) -> Path | None:
    """A manifest's ``./relative`` path inside the plugin; anything else is ignored, as the reference."""
    if not isinstance(value, str) or not value.startswith("./") or len(value) <= 2:
        return None
    parts = value[2:].split("/")
    if any(part in ("..", ".", "") for part in parts):
        return None
    return Path(os.path.join(str(root), *parts))


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _default_prompts(value: Any) -> list[str] | None:
    entries = [value] if isinstance(value, str) else _strings(value)
    prompts = []
    for entry in entries[:_MAX_DEFAULT_PROMPTS]:
        prompt = " ".join(entry.split())
        if prompt and len(prompt) <= _MAX_DEFAULT_PROMPT_CHARS:
            prompts.append(prompt)
    return prompts or None


def _interface(root: Path, raw: Any) -> dict[str, Any] | None:
    """The wire ``PluginInterface`` of a manifest's ``interface``; None when it says nothing."""
    if not isinstance(raw, dict):
        return None

    def url(key: str) -> str | None:
        return _text(raw.get(key, raw.get(key.replace("Url", "URL"))))

    def asset(key: str) -> str | None:
        path = _manifest_path(root, raw.get(key))
        return str(path) if path is not None else None

    interface: dict[str, Any] = {
        "displayName": _text(raw.get("displayName")),
        "shortDescription": _text(raw.get("shortDescription")),
        "longDescription": _text(raw.get("longDescription")),
        "developerName": _text(raw.get("developerName")),
        "category": _text(raw.get("category")),
        "capabilities": _strings(raw.get("capabilities")),
        "websiteUrl": url("websiteUrl"),
        "privacyPolicyUrl": url("privacyPolicyUrl"),
        "termsOfServiceUrl": url("termsOfServiceUrl"),
        "defaultPrompt": _default_prompts(raw.get("defaultPrompt")),
        "brandColor": _text(raw.get("brandColor")),
        "composerIcon": asset("composerIcon"),
        "composerIconUrl": None,
        "logo": asset("logo"),
        "logoDark": asset("logoDark"),
        "logoUrl": None,
        "logoUrlDark": None,
        "screenshots": [str(p) for p in (_manifest_path(root, s) for s in _strings(raw.get("screenshots"))) if p],
        "screenshotUrls": [],
    }
    return interface if any(value not in (None, []) for value in interface.values()) else None


#: Parsed plugin manifests by file, with the (mtime, size, inode) they were read at: a listing
#: reads every plugin of every marketplace, and most have not changed since the last one.
_MANIFESTS: dict[str, tuple[tuple[int, int, int], PluginManifest | None]] = {}
_MANIFESTS_KEPT = 4096


def load_plugin_manifest(root: Path) -> PluginManifest | None:
    """The plugin manifest under ``root``; None when it is missing or not a JSON object."""
    path = find_manifest(root, PLUGIN_MANIFESTS)
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key, version = str(path), (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = _MANIFESTS.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    manifest = _parse_plugin_manifest(root, path)
    if len(_MANIFESTS) >= _MANIFESTS_KEPT:
        _MANIFESTS.clear()
    _MANIFESTS[key] = (version, manifest)
    return manifest


def _parse_plugin_manifest(root: Path, path: Path) -> PluginManifest | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    name = raw.get("name") if isinstance(raw.get("name"), str) and raw["name"].strip() else root.name
    version = raw.get("version")
    skills = raw.get("skills")
    skill_paths = [skills] if isinstance(skills, str) else _strings(skills)
    skill_dirs = tuple(p for p in (_manifest_path(root, s) for s in skill_paths) if p is not None)
    mcp = raw.get("mcpServers")
    mcp_servers: Path | dict[str, Any] | None = (
        _manifest_path(root, mcp) if isinstance(mcp, str) else mcp if isinstance(mcp, dict) else None
    )
    return PluginManifest(
        hooks=_manifest_hooks(root, raw.get("hooks")),
        root=root,
        name=str(name),
        version=version.strip() or None if isinstance(version, str) else None,
        description=_text(raw.get("description")),
        keywords=tuple(_strings(raw.get("keywords"))),
        skill_dirs=skill_dirs or (root / "skills",),
        mcp_servers=mcp_servers,
        interface=_interface(root, raw.get("interface")),
    )


def _manifest_hooks(root: Path, raw: Any) -> tuple[Path, ...] | tuple[dict[str, Any], ...] | None:
    """The manifest's ``hooks``: files, inline tables, or None for the default ``hooks/hooks.json``."""
    if raw is None:
        return None
    if isinstance(raw, dict):
        return (raw,)
    if isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
        return tuple(raw)
    paths = [raw] if isinstance(raw, str) else _strings(raw)
    return tuple(p for p in (_manifest_path(root, path) for path in paths) if p is not None)


@dataclass(frozen=True, slots=True)
class HookDocument:
    """One source of a plugin's hooks: a file (``path``) or a table inline in the manifest."""

    #: How the reference names the source in hook keys: the file relative to the plugin, or
    #: ``plugin.json#hooks[N]``.
    label: str
    path: Path
    document: Any


def plugin_hook_documents(manifest: PluginManifest) -> list[HookDocument]:
    documents = []
    manifest_path = find_manifest(manifest.root, PLUGIN_MANIFESTS) or manifest.root / PLUGIN_MANIFESTS[0]
    hooks = manifest.hooks if manifest.hooks is not None else (manifest.root / DEFAULT_HOOKS_FILE,)
    for index, entry in enumerate(hooks):
        if isinstance(entry, Path):
            try:
                document = json.loads(entry.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            documents.append(HookDocument(entry.relative_to(manifest.root).as_posix(), entry, document))
        else:
            documents.append(HookDocument(f"plugin.json#hooks[{index}]", manifest_path, entry))
    return documents


@dataclass(frozen=True, slots=True)
class HookHandler:
    """One handler of a plugin's hooks, where it sits, and its reference key."""

    key: str
    event: str  # as config files spell it: ``PreToolUse``
    wire_event: str
    source: HookDocument
    group_index: int
    handler_index: int
    matcher: str | None
    handler: Any


def plugin_hook_handlers(plugin_id: str, manifest: PluginManifest) -> list[HookHandler]:
    """Every hook handler the plugin declares, in event order, keyed as the reference keys them
    (``<id>:<source>:<event>:<group>:<handler>``)."""
    from .skills import HOOK_EVENTS, snake_case

    found = []
    documents = plugin_hook_documents(manifest)
    for event, wire_event in HOOK_EVENTS.items():
        for source in documents:
            table = source.document.get("hooks") if isinstance(source.document, dict) else None
            groups = table.get(event) if isinstance(table, dict) else None
            for group_index, group in enumerate(groups if isinstance(groups, list) else []):
                handlers = group.get("hooks") if isinstance(group, dict) else None
                matcher = group.get("matcher") if isinstance(group, dict) else None
                for handler_index, handler in enumerate(handlers if isinstance(handlers, list) else []):
                    key = f"{plugin_id}:{source.label}:{snake_case(event)}:{group_index}:{handler_index}"
                    found.append(
                        HookHandler(
                            key,
                            event,
                            wire_event,
                            source,
                            group_index,
                            handler_index,
                            matcher if isinstance(matcher, str) else None,
                            handler,
                        )
                    )
    return found


def plugin_hook_summaries(plugin_id: str, manifest: PluginManifest) -> list[dict[str, str]]:
    """The wire ``PluginHookSummary`` of every hook handler the plugin declares."""
    return [{"key": hook.key, "eventName": hook.wire_event} for hook in plugin_hook_handlers(plugin_id, manifest)]


#: The types of the MCP server fields that are not plain scalars.
_MCP_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "command": str,
    "url": str,
    "cwd": str,
    "args": list,
    "env": dict,
    "http_headers": dict,
    "env_http_headers": dict,
    "tools": dict,
    "enabled_tools": list,
    "disabled_tools": list,
    "bearer_token_env_var": str,
    "default_tools_approval_mode": str,
    "startup_timeout_sec": (int, float),
    "tool_timeout_sec": (int, float),
}


def plugin_mcp_tables(manifest: PluginManifest) -> dict[str, dict[str, Any]]:
    """The MCP server tables a plugin declares (``mcpServers`` in its manifest, else ``.mcp.json``)."""
    declared = manifest.mcp_servers
    if not isinstance(declared, dict):
        path = declared if isinstance(declared, Path) else manifest.root / ".mcp.json"
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return {}
        declared = loaded if isinstance(loaded, dict) else {}
    # Both spellings exist: a file of `{"mcpServers": {...}}` and a bare table of servers.
    servers = declared.get("mcpServers", declared)
    if not isinstance(servers, dict):
        return {}
    tables = {}
    for name, table in servers.items():
        if isinstance(table, dict):
            # A plugin's file is not the user's config: a field of the wrong type is dropped
            # rather than allowed to break the MCP setup of every thread.
            table = {key: value for key, value in table.items() if isinstance(value, _MCP_FIELD_TYPES.get(key, object))}
            # A relative working directory is the plugin's own folder.
            cwd = table.get("cwd")
            table["cwd"] = str(manifest.root / cwd) if isinstance(cwd, str) else str(manifest.root)
            tables[str(name)] = table
    return tables


# ---------------------------------------------------------------------- marketplaces


@dataclass(frozen=True, slots=True)
class MarketplacePlugin:
    name: str
    #: The wire ``PluginSource`` (``local`` with an absolute path, or ``git``).
    source: dict[str, Any]
    install_policy: str
    auth_policy: str
    category: str | None
    manifest: PluginManifest | None


@dataclass(frozen=True, slots=True)
class Marketplace:
    name: str
    #: The manifest file.
    path: Path
    display_name: str | None
    plugins: tuple[MarketplacePlugin, ...]

    def plugin(self, name: str) -> MarketplacePlugin:
        for plugin in self.plugins:
            if plugin.name == name:
                return plugin
        raise PluginError(f"plugin `{name}` was not found in marketplace `{self.name}`")


def _marketplace_root(path: Path) -> Path:
    for relative in MARKETPLACE_MANIFESTS:
        parts = Path(relative).parts
        if path.parts[-len(parts) :] == parts:
            return Path(*path.parts[: -len(parts)])
    raise PluginError(f"invalid marketplace file `{path}`: marketplace file is not in a supported location")


def _plugin_source(root: Path, raw: Any) -> dict[str, Any] | None:
    """A plugin entry's source as the wire says it; None for a source this server cannot use."""
    if isinstance(raw, str):
        raw = {"source": "local", "path": raw}
    if not isinstance(raw, dict):
        return None
    kind = raw.get("source")
    if kind == "local":
        path = raw.get("path")
        resolved = _manifest_path(root, path) if isinstance(path, str) else None
        return {"type": "local", "path": str(resolved)} if resolved is not None else None
    if kind in ("url", "git-subdir") and isinstance(raw.get("url"), str) and raw["url"].strip():
        subdir = raw.get("path")
        return {
            "type": "git",
            "url": raw["url"].strip(),
            "path": subdir.strip().removeprefix("./") if isinstance(subdir, str) and subdir.strip() else None,
            "refName": _text(raw.get("ref")),
            "sha": _text(raw.get("sha")),
        }
    if kind == "npm" and isinstance(raw.get("package"), str) and raw["package"].strip():
        # Listed as the reference lists it; installing one is refused (install_plugin).
        return {
            "type": "npm",
            "package": raw["package"].strip(),
            "registry": _text(raw.get("registry")),
            "version": _text(raw.get("version")),
        }
    return None


def load_marketplace(path: Path) -> Marketplace:
    """Read one marketplace manifest. As the reference: a malformed file (an entry that is not an
    object, a policy value it does not know…) is an error for the whole file, while an entry with
    an invalid name or a source this server cannot use is left out."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PluginError(f"marketplace file `{path}` does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"failed to read marketplace file `{path}`: {exc}") from None
    try:
        raw = json.loads(text)
        display_name, entries = _marketplace_shape(raw)
    except ValueError as exc:
        raise PluginError(f"invalid marketplace file `{path}`: {exc}") from None
    root = _marketplace_root(path)
    plugins = []
    for entry in entries:
        try:
            validate_segment(entry["name"], "plugin name")
        except PluginError:
            continue
        source = _plugin_source(root, entry.get("source"))
        if source is None:
            continue
        policy = entry.get("policy") or {}
        manifest = load_plugin_manifest(Path(source["path"])) if source["type"] == "local" else None
        plugins.append(
            MarketplacePlugin(
                name=entry["name"],
                source=source,
                install_policy=policy.get("installation", "AVAILABLE"),
                auth_policy=policy.get("authentication", "ON_INSTALL"),
                category=entry.get("category"),
                manifest=manifest,
            )
        )
    return Marketplace(raw["name"], path, display_name, tuple(plugins))


_INSTALL_POLICIES = ("NOT_AVAILABLE", "AVAILABLE", "INSTALLED_BY_DEFAULT")
_AUTH_POLICIES = ("ON_INSTALL", "ON_USE")


def _marketplace_shape(raw: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """The display name and plugin entries of a parsed manifest; ValueError says what is malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not isinstance(raw.get("plugins"), list):
        raise ValueError("expected an object with a string `name` and a `plugins` array")
    interface = raw.get("interface")
    if interface is not None and not isinstance(interface, dict):
        raise ValueError("`interface` must be an object")
    display_name = (interface or {}).get("displayName")
    if display_name is not None and not isinstance(display_name, str):
        raise ValueError("`interface.displayName` must be a string")
    for index, entry in enumerate(raw["plugins"]):
        where = f"`plugins[{index}]`"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "source" not in entry:
            raise ValueError(f"{where} must be an object with a string `name` and a `source`")
        if entry.get("category") is not None and not isinstance(entry["category"], str):
            raise ValueError(f"{where}.category must be a string")
        policy = entry.get("policy")
        if policy is None:
            continue
        if not isinstance(policy, dict):
            raise ValueError(f"{where}.policy must be an object")
        if policy.get("installation", "AVAILABLE") not in _INSTALL_POLICIES:
            raise ValueError(f"{where}.policy.installation must be one of {', '.join(_INSTALL_POLICIES)}")
        if policy.get("authentication", "ON_INSTALL") not in _AUTH_POLICIES:
            raise ValueError(f"{where}.policy.authentication must be one of {', '.join(_AUTH_POLICIES)}")
    return display_name, raw["plugins"]


def marketplace_name_of_root(root: Path) -> str:
    """The name a marketplace folder declares; PluginError when it holds no usable manifest."""
    path = find_manifest(root, MARKETPLACE_MANIFESTS)
    if path is None:
        raise PluginError(f"invalid marketplace file `{root}`: marketplace root does not contain a supported manifest")
    return validate_segment(load_marketplace(path).name, "marketplace name")


def read_user_config(codex_home: Path) -> dict[str, Any]:
    path = user_config_path(codex_home)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PluginError(f"cannot read {path}: {exc}; fix it by hand") from None


def configured_marketplaces(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tables = values.get("marketplaces")
    return {str(k): v for k, v in tables.items() if isinstance(v, dict)} if isinstance(tables, dict) else {}


def configured_marketplace_root(codex_home: Path, name: str, table: dict[str, Any]) -> Path | None:
    """Where an added marketplace lives: a local one where it is, any other in its clone."""
    if table.get("source_type") == "local":
        source = table.get("source")
        return Path(source) if isinstance(source, str) and source else None
    return codex_home / INSTALLED_MARKETPLACES_DIR / name


def git_repo_root(directory: Path) -> Path | None:
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


@dataclass
class Discovery:
    marketplaces: list[Marketplace] = field(default_factory=list)
    #: Wire ``MarketplaceLoadErrorInfo`` dicts.
    errors: list[dict[str, str]] = field(default_factory=list)


def discover(codex_home: Path, home: Path | None, cwds: Iterable[Path], values: dict[str, Any]) -> Discovery:
    """Every marketplace a request sees: the home's, then those of the cwds and the added ones in
    the order of their folders' paths, as the reference orders them (first of a name wins)."""
    candidates: list[Path] = []
    home_manifest = find_manifest(home, MARKETPLACE_MANIFESTS) if home is not None else None
    if home_manifest is not None:
        candidates.append(home_manifest)
    added = (configured_marketplace_root(codex_home, n, t) for n, t in configured_marketplaces(values).items())
    for root in sorted({*cwds, *(root for root in added if root is not None)}):
        # A folder holding a marketplace, else the root of its git repository.
        path = find_manifest(root, MARKETPLACE_MANIFESTS)
        repo = git_repo_root(root) if path is None else None
        path = path or (find_manifest(repo, MARKETPLACE_MANIFESTS) if repo is not None else None)
        if path is not None and path not in candidates:
            candidates.append(path)
    found = Discovery()
    for path in candidates:
        try:
            marketplace = load_marketplace(path)
        except PluginError as exc:
            found.errors.append({"marketplacePath": str(path), "message": exc.message})
            continue
        if all(existing.name != marketplace.name for existing in found.marketplaces):
            found.marketplaces.append(marketplace)
    return found


# ---------------------------------------------------------------------- install state


def plugin_base_root(codex_home: Path, plugin: str, marketplace: str) -> Path:
    return codex_home / PLUGINS_CACHE_DIR / marketplace / plugin


def active_version(codex_home: Path, plugin: str, marketplace: str) -> str | None:
    """The installed version (``local`` first, else the greatest name), None when not installed."""
    try:
        # A string path: this runs for every plugin a listing shows.
        entries = os.scandir(os.path.join(str(codex_home), str(PLUGINS_CACHE_DIR), marketplace, plugin))
    except OSError:
        return None
    with entries:
        versions = sorted(
            e.name for e in entries if e.is_dir() and set(e.name) <= _VERSION_CHARS and e.name not in (".", "..")
        )
    if not versions:
        return None
    return DEFAULT_PLUGIN_VERSION if DEFAULT_PLUGIN_VERSION in versions else versions[-1]


def plugin_enabled(values: dict[str, Any], plugin_id: str) -> bool:
    tables = values.get("plugins")
    table = tables.get(plugin_id) if isinstance(tables, dict) else None
    return isinstance(table, dict) and table.get("enabled", True) is not False


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    plugin_id: str
    root: Path
    manifest: PluginManifest


def enabled_plugins(codex_home: Path, values: dict[str, Any]) -> list[InstalledPlugin]:
    """Plugins installed in the cache and enabled in config.toml, in id order."""
    tables = values.get("plugins")
    found = []
    for plugin_id in sorted(tables) if isinstance(tables, dict) else []:
        name, _, marketplace = str(plugin_id).partition("@")
        if not name or not marketplace or not plugin_enabled(values, plugin_id):
            continue
        if not (set(name) <= _SEGMENT_CHARS and set(marketplace) <= _SEGMENT_CHARS):
            continue
        version = active_version(codex_home, name, marketplace)
        if version is None:
            continue
        root = plugin_base_root(codex_home, name, marketplace) / version
        manifest = load_plugin_manifest(root)
        if manifest is not None:
            found.append(InstalledPlugin(plugin_id, root, manifest))
    return found


def plugin_mcp_servers(codex_home: Path, values: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """MCP server name → (plugin id, server table) of every enabled plugin (the first of a name wins)."""
    servers: dict[str, tuple[str, dict[str, Any]]] = {}
    for plugin in enabled_plugins(codex_home, values):
        for name, table in plugin_mcp_tables(plugin.manifest).items():
            servers.setdefault(name, (plugin.plugin_id, table))
    return servers


# ---------------------------------------------------------------------- wire shapes


def summary(
    codex_home: Path, values: dict[str, Any], marketplace: Marketplace, plugin: MarketplacePlugin
) -> dict[str, Any]:
    """The wire ``PluginSummary`` of one marketplace entry."""
    plugin_id = f"{plugin.name}@{marketplace.name}"
    installed = active_version(codex_home, plugin.name, marketplace.name)
    manifest = plugin.manifest
    if manifest is None and installed is not None:
        # A plugin fetched from git at install: its manifest is the installed copy's.
        manifest = load_plugin_manifest(plugin_base_root(codex_home, plugin.name, marketplace.name) / installed)
    interface = dict(manifest.interface) if manifest is not None and manifest.interface is not None else None
    if plugin.category is not None:
        # The marketplace's taxonomy wins over the plugin's own category, as the reference.
        interface = interface or dict(_interface(Path("/"), {"category": plugin.category}) or {})
        interface["category"] = plugin.category
    return {
        "id": plugin_id,
        "remotePluginId": None,
        "version": None,
        "localVersion": manifest.version if manifest is not None else None,
        "name": plugin.name,
        "shareContext": None,
        "source": plugin.source,
        "installed": installed is not None,
        "installedAt": None,
        "enabled": installed is not None and plugin_enabled(values, plugin_id),
        "installPolicy": plugin.install_policy,
        "installPolicySource": None,
        "mustShowInstallationInterstitial": None,
        "authPolicy": plugin.auth_policy,
        "availability": "AVAILABLE",
        "disabledReason": None,
        "eligiblePlanTypes": None,
        "interface": interface,
        # The reference takes keywords from the marketplace's copy only (none for a git source).
        "keywords": list(plugin.manifest.keywords) if plugin.manifest is not None else [],
    }


def marketplace_entry(marketplace: Marketplace, plugins: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": marketplace.name,
        "path": str(marketplace.path),
        "interface": {"displayName": marketplace.display_name} if marketplace.display_name is not None else None,
        "plugins": plugins,
    }


def list_plugins(
    codex_home: Path,
    home: Path | None,
    cwds: Iterable[Path],
    *,
    installed_only: bool = False,
    suggestions: Sequence[str] = (),
) -> dict[str, Any]:
    """``plugin/list`` (every plugin) or ``plugin/installed`` (installed ones and ``suggestions``)."""
    values = read_user_config(codex_home)
    found = discover(codex_home, home, cwds, values)
    entries = []
    for marketplace in found.marketplaces:
        plugins = [summary(codex_home, values, marketplace, plugin) for plugin in marketplace.plugins]
        if installed_only:
            plugins = [p for p in plugins if p["installed"] or p["name"] in suggestions]
            if not plugins:
                continue
        entries.append(marketplace_entry(marketplace, plugins))
    return {"marketplaces": entries, "marketplaceLoadErrors": found.errors}


def _skill_summaries(
    plugin_id: str, skill_dirs: Sequence[Path], disabled: tuple[set[str], set[str]]
) -> list[dict[str, Any]]:
    from .skills import load_skill, skill_files

    skills = []
    for directory in skill_dirs:
        for path in skill_files(directory):
            try:
                skill = load_skill(path, "user", plugin_id)
            except (OSError, ValueError):
                continue
            names, paths = disabled
            skills.append(
                {
                    "name": skill["name"],
                    "description": skill["description"],
                    "shortDescription": skill["shortDescription"],
                    "interface": None,
                    "path": skill["path"],
                    "enabled": skill["name"] not in names and skill["path"] not in paths,
                }
            )
    return sorted(skills, key=lambda skill: (skill["name"], skill["path"]))


def read_plugin(codex_home: Path, marketplace_path: Path, plugin_name: str) -> dict[str, Any]:
    """The wire ``PluginDetail`` of one plugin, read from its marketplace's copy."""
    from .skills import disabled_skills

    values = read_user_config(codex_home)
    marketplace = load_marketplace(marketplace_path)
    plugin = marketplace.plugin(plugin_name)
    manifest = plugin.manifest
    skills = (
        _skill_summaries(f"{plugin.name}@{marketplace.name}", manifest.skill_dirs, disabled_skills(values))
        if manifest
        else []
    )
    return {
        "marketplaceName": marketplace.name,
        "marketplacePath": str(marketplace.path),
        "summary": summary(codex_home, values, marketplace, plugin),
        "shareUrl": None,
        "description": manifest.description if manifest is not None else _remote_description(plugin.source),
        "skills": skills,
        "onboardingSkill": None,
        "hooks": plugin_hook_summaries(f"{plugin.name}@{marketplace.name}", manifest) if manifest else [],
        # Apps a plugin declares (.app.json) are ChatGPT connectors: listed only by OpenAI's services.
        "apps": [],
        "appTemplates": [],
        "mcpServers": sorted(plugin_mcp_tables(manifest)) if manifest is not None else [],
        "scheduledTasks": None,
    }


def _remote_description(source: dict[str, Any]) -> str | None:
    """What the reference says of a plugin whose files are elsewhere until it is installed."""
    if source["type"] == "git":
        kind, parts = "a cross-repo plugin", [source["url"]]
        parts += [f"{label} `{source[key]}`" for key, label in _GIT_PARTS if source.get(key)]
    elif source["type"] == "npm":
        kind, parts = "an npm plugin", [source["package"]]
        parts += [f"{key} `{source[key]}`" for key in ("version", "registry") if source.get(key)]
    else:
        return None
    return (
        f"This is {kind}. Install it to view more detailed information. The source of the plugin is {', '.join(parts)}."
    )


_GIT_PARTS = (("path", "path"), ("refName", "ref"), ("sha", "sha"))


def _copy_into_cache(source: Path, base_root: Path, version: str) -> None:
    """Replace ``base_root`` by a copy of ``source`` at ``base_root/version``, never half-written:
    the copy is staged beside it and swapped in with renames."""
    base_root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="plugin-install-", dir=base_root.parent))
    try:
        staged = staging / base_root.name
        # Symbolic links are left out, as the reference leaves them: one could point anywhere.
        shutil.copytree(source, staged / version, symlinks=True, ignore=_symlinks)
        swap_into_place(staged, base_root, staging / "previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _symlinks(directory: str, names: list[str]) -> list[str]:
    return [name for name in names if os.path.islink(os.path.join(directory, name))]


def swap_into_place(staged: Path, destination: Path, backup: Path) -> None:
    """Move ``staged`` to ``destination``; what was there goes to ``backup`` (put back if the move fails)."""
    if destination.exists():
        os.rename(destination, backup)
    try:
        os.rename(staged, destination)
    except OSError:
        if backup.exists():
            os.rename(backup, destination)
        raise


def write_config_edits(codex_home: Path, edits: list[Edit]) -> None:
    try:
        write_user_config(codex_home, edits)
    except ConfigWriteError as exc:
        raise PluginError(exc.message) from None


def drop_table_if_empty(codex_home: Path, table: str) -> None:
    """Remove a top-level table left empty by a removal, as the reference leaves none behind."""
    value = read_user_config(codex_home).get(table)
    if isinstance(value, dict) and not value:
        write_config_edits(codex_home, [Edit(table, None, "replace")])


def install_plugin(codex_home: Path, marketplace_path: Path, plugin_name: str) -> str:
    """Copy the plugin into the cache and enable it; returns its auth policy."""
    marketplace = load_marketplace(marketplace_path)
    plugin = marketplace.plugin(plugin_name)
    if plugin.install_policy == "NOT_AVAILABLE":
        raise PluginError(f"plugin `{plugin.name}` is not available for install in marketplace `{marketplace.name}`")
    validate_segment(marketplace.name, "marketplace name")
    if plugin.source["type"] == "git":
        with tempfile.TemporaryDirectory(prefix="plugin-source-") as checkout:
            source = fetch_git_plugin(plugin.source, Path(checkout))
            _install_from(codex_home, marketplace.name, plugin.name, source, manifest_word="plugin.json")
    elif plugin.source["type"] == "local":
        _install_from(codex_home, marketplace.name, plugin.name, Path(plugin.source["path"]))
    else:
        raise PluginError(
            f"plugin `{plugin.name}` comes from an npm package; this server installs plugins from folders and git only"
        )
    write_config_edits(codex_home, [Edit(f'plugins."{plugin.name}@{marketplace.name}"', {"enabled": True}, "replace")])
    return plugin.auth_policy


def _install_from(
    codex_home: Path, marketplace: str, plugin: str, source: Path, *, manifest_word: str = "plugin manifest"
) -> None:
    if not source.is_dir():
        raise PluginError(f"plugin source path is not a directory: {source}")
    manifest_path = find_manifest(source, PLUGIN_MANIFESTS)
    if manifest_path is None:
        raise PluginError(f"missing plugin manifest: {source / PLUGIN_MANIFESTS[0]}")
    manifest = load_plugin_manifest(source)
    if manifest is None:
        raise PluginError(f"missing or invalid plugin manifest: {manifest_path}")
    if manifest.name != plugin:
        raise PluginError(f"{manifest_word} name `{manifest.name}` does not match marketplace plugin name `{plugin}`")
    version = manifest.version or DEFAULT_PLUGIN_VERSION
    if version in (".", "..") or not set(version) <= _VERSION_CHARS:
        raise PluginError(
            f"invalid plugin version in manifest {manifest_path}: "
            "only ASCII letters, digits, `.`, `+`, `_`, and `-` are allowed"
        )
    try:
        _copy_into_cache(source, plugin_base_root(codex_home, plugin, marketplace), version)
    except OSError as exc:
        raise PluginInternalError(f"failed to install plugin `{plugin}@{marketplace}`: {exc}") from None


def fetch_git_plugin(source: dict[str, Any], checkout: Path) -> Path:
    """Clone a ``git`` plugin source into ``checkout``; the plugin's folder in it."""
    from .marketplaces import run_git

    run_git(["clone", "--quiet", source["url"], str(checkout / "repo")])
    selector = source.get("sha") or source.get("refName")
    if selector:
        run_git(["-C", str(checkout / "repo"), "checkout", "--quiet", selector])
    return checkout / "repo" / (source.get("path") or "")


def uninstall_plugin(codex_home: Path, plugin_id: str) -> None:
    """Remove the plugin's cache folder and its config entry (a plugin not installed is fine)."""
    name, sep, marketplace = plugin_id.partition("@")
    if not sep:
        raise PluginError(
            f"plugin id `{plugin_id}` is not `plugin@marketplace`; plugins of OpenAI's remote catalog "
            "are not offered by this server"
        )
    validate_segment(name, "plugin name")
    validate_segment(marketplace, "marketplace name")
    try:
        shutil.rmtree(plugin_base_root(codex_home, name, marketplace))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PluginInternalError(f"failed to remove plugin cache entry: {exc}") from None
    tables = read_user_config(codex_home).get("plugins")
    if isinstance(tables, dict) and plugin_id in tables:
        write_config_edits(codex_home, [Edit(f'plugins."{plugin_id}"', None, "replace")])
        drop_table_if_empty(codex_home, "plugins")
