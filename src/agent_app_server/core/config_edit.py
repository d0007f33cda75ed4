"""Config layers as clients see them, and edits to the user's ``config.toml``.

Owns: the layer stack of ``config/read`` (``-c`` session flags, then a trusted project's
``.codex/config.toml`` files from the working directory up to the project root, then
``$CODEX_HOME/config.toml``; highest precedence first, as the reference lists them), the effective
config and the origin of each value, layer versions (``sha256:`` of the layer's JSON, as the
reference computes them), and ``config/value/write`` / ``config/batchWrite``: edits applied with
``tomlkit`` so comments and formatting survive, checked (valid TOML, and known keys with the
reference's types) before an atomic replace; a refused edit leaves the file untouched.
Every function here blocks on files: call them from a worker thread.
Layer: core (imports ``protocol`` for the reference's typed view of config values).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import parse_override

CONFIG_FILE_NAME = "config.toml"
PROJECT_DIR_NAME = ".codex"
PROJECT_ROOT_MARKERS = (".git",)
_INT64 = (-(2**63), 2**63 - 1)


class ConfigWriteError(Exception):
    """A refused write; ``code`` is the reference's ``config_write_error_code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Layer:
    """One source of config values. ``name`` is the wire ``ConfigLayerSource``."""

    name: dict[str, Any]
    config: dict[str, Any]
    version: str
    disabled_reason: str | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version}

    def to_wire(self) -> dict[str, Any]:
        return {**self.metadata, "config": self.config, "disabledReason": self.disabled_reason}


def version_of(values: dict[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    """TOML dates and times as strings: the wire is JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return _jsonable(tomllib.loads(text))  # type: ignore[no-any-return]


def user_config_path(codex_home: Path) -> Path:
    return codex_home / CONFIG_FILE_NAME


# ---------------------------------------------------------------------- layers


def project_root(cwd: Path) -> Path:
    """The nearest ancestor (or ``cwd`` itself) holding a project root marker, else ``cwd``."""
    for directory in (cwd, *cwd.parents):
        if any((directory / marker).exists() for marker in PROJECT_ROOT_MARKERS):
            return directory
    return cwd


def is_trusted(user_values: dict[str, Any], directory: Path) -> bool:
    """``[projects."<dir>"] trust_level = "trusted"`` for ``directory`` or one of its ancestors."""
    projects = user_values.get("projects")
    if not isinstance(projects, dict):
        return False
    for candidate in (directory, *directory.parents):
        entry = projects.get(str(candidate))
        if isinstance(entry, dict) and entry.get("trust_level") == "trusted":
            return True
    return False


def project_dirs(cwd: Path) -> list[Path]:
    """``.codex`` folders from ``cwd`` up to its project root, nearest (highest precedence) first."""
    root = project_root(cwd)
    found = []
    for directory in (cwd, *cwd.parents):
        candidate = directory / PROJECT_DIR_NAME
        if (candidate / CONFIG_FILE_NAME).is_file():
            found.append(candidate)
        if directory == root:
            break
    return found


def session_flags_layer(overrides: tuple[str, ...]) -> Layer | None:
    """The ``-c key=value`` flags of this process as a layer (None without any)."""
    if not overrides:
        return None
    flags: dict[str, Any] = {}
    for text in overrides:
        keys, value = parse_override(text)
        _set_path(flags, keys, _jsonable(value))
    return Layer({"type": "sessionFlags"}, flags, version_of(flags))


def read_layers(codex_home: Path, overrides: tuple[str, ...], cwd: Path | None) -> list[Layer]:
    """Every layer, highest precedence first; an untrusted project's layer is listed, disabled."""
    layers: list[Layer] = []
    flags = session_flags_layer(overrides)
    if flags is not None:
        layers.append(flags)
    user_path = user_config_path(codex_home)
    user_values = _read_toml(user_path) or {}
    if cwd is not None:
        trusted = is_trusted(user_values, project_root(cwd)) or is_trusted(user_values, cwd)
        for folder in project_dirs(cwd):
            try:
                values = _read_toml(folder / CONFIG_FILE_NAME) or {}
            except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
                layers.append(
                    Layer(
                        {"type": "project", "dotCodexFolder": str(folder)},
                        {},
                        version_of({}),
                        f"{folder / CONFIG_FILE_NAME} cannot be read: {exc}",
                    )
                )
                continue
            reason = None
            if not trusted:
                reason = (
                    f"Project config is disabled until the project is trusted: add "
                    f'[projects."{project_root(cwd)}"] trust_level = "trusted" to {user_path}'
                )
            layers.append(Layer({"type": "project", "dotCodexFolder": str(folder)}, values, version_of(values), reason))
    layers.append(
        Layer({"type": "user", "file": str(user_path), "profile": None}, user_values, version_of(user_values))
    )
    return layers


def effective(layers: list[Layer]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The merged config and, for each leaf value, the metadata of the layer it comes from."""
    merged: dict[str, Any] = {}
    origins: dict[str, dict[str, Any]] = {}
    for layer in reversed(layers):
        if layer.disabled_reason is not None:
            continue
        _merge(merged, copy.deepcopy(layer.config))
        for path in _leaf_paths(layer.config):
            origins[path] = layer.metadata
    return merged, origins


def _merge(into: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _leaf_paths(values: Any, prefix: str = "") -> list[str]:
    if isinstance(values, dict) and values:
        paths: list[str] = []
        for key, value in values.items():
            paths += _leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
        return paths
    if isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        paths = []
        for index, value in enumerate(values):
            paths += _leaf_paths(value, f"{prefix}.{index}")
        return paths
    return [prefix] if prefix else []


def lookup(values: dict[str, Any], keys: list[str]) -> tuple[bool, Any]:
    node: Any = values
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


# ---------------------------------------------------------------------- writes


@dataclass(frozen=True, slots=True)
class Edit:
    key_path: str
    value: Any
    merge_strategy: str  # "replace" | "upsert"


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: Path
    version: str
    values: dict[str, Any]


# A segment is anything up to the next dot (spaces and unicode included, as the reference's
# split on "."), or a quoted string when the key itself contains dots.
_SEGMENT = re.compile(r'(?:"((?:[^"\\]|\\.)*)"|([^."]+))(?:\.|$)')


def split_key_path(key_path: str) -> list[str]:
    """``a.b."c.d"`` → ``["a", "b", "c.d"]`` (quote a segment that contains dots)."""
    if not key_path.strip():
        raise ConfigWriteError("configValidationError", "keyPath must not be empty")
    keys: list[str] = []
    position = 0
    while position < len(key_path):
        match = _SEGMENT.match(key_path, position)
        if match is None or match.end() == position:
            raise ConfigWriteError(
                "configValidationError", f"invalid keyPath {key_path!r}: use dotted keys, quoting ones with dots"
            )
        keys.append(match.group(1) if match.group(1) is not None else match.group(2))
        position = match.end()
    if key_path.rstrip().endswith("."):
        raise ConfigWriteError("configValidationError", f"invalid keyPath {key_path!r}: it ends with a dot")
    return keys


def write_user_config(
    codex_home: Path,
    edits: list[Edit],
    *,
    expected_version: str | None = None,
    file_path: str | None = None,
) -> WriteResult:
    """Apply ``edits`` to the user's config.toml, or refuse them all and leave the file as it was."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = user_config_path(codex_home)
    if file_path is not None and Path(file_path).expanduser().absolute() != path.absolute():
        raise ConfigWriteError("configLayerReadonly", f"Only writes to the user config are allowed ({path})")
    try:
        original = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        original = ""
    try:
        current = _jsonable(tomllib.loads(original))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigWriteError(
            "configValidationError", f"{path} is not valid TOML ({exc}); fix it by hand before writing to it"
        ) from None
    if expected_version is not None and expected_version != version_of(current):
        raise ConfigWriteError(
            "configVersionConflict", "Configuration was modified since last read. Fetch latest version and retry."
        )
    document = tomlkit.parse(original)
    for edit in edits:
        keys = split_key_path(edit.key_path)
        _check_value(edit.value, edit.key_path)
        try:
            _apply(document, keys, edit.value, edit.merge_strategy, edit.key_path)
        except (TOMLKitError, TypeError, ValueError) as exc:
            raise ConfigWriteError("configValidationError", f"cannot write `{edit.key_path}`: {exc}") from None
    text = tomlkit.dumps(document)
    try:
        values = _jsonable(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigWriteError(
            "configValidationError", f"the edit would make {path} invalid TOML ({exc}); nothing was written"
        ) from None
    validate_values(values)
    if text != original:
        atomic_write(path, text)
    return WriteResult(path, version_of(values), values)


def _check_value(value: Any, where: str) -> None:
    """What JSON can say but TOML cannot: null inside a value, and integers beyond 64 bits."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                raise ConfigWriteError(
                    "configValidationError", f"`{where}.{key}` is null, which TOML cannot store; leave the key out"
                )
            _check_value(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if item is None:
                raise ConfigWriteError("configValidationError", f"`{where}[{index}]` is null, which TOML cannot store")
            _check_value(item, f"{where}[{index}]")
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        raise ConfigWriteError("configValidationError", f"`{where}` is outside the 64-bit integer range of TOML")


def _apply(document: Any, keys: list[str], value: Any, strategy: str, key_path: str) -> None:
    import tomlkit

    node: Any = document
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            if value is None:
                return  # removing a key that is not there
            child = tomlkit.table()
            node[key] = child
            child = node[key]
        elif not isinstance(child, dict):
            where = ".".join(keys[: depth + 1])
            raise ConfigWriteError(
                "configValidationError", f"cannot write `{key_path}`: `{where}` is a value, not a table"
            )
        node = child
    last = keys[-1]
    if value is None:
        if last in node:
            del node[last]
        return
    existing = node.get(last)
    if strategy == "upsert" and isinstance(value, dict) and isinstance(existing, dict):
        for key, item in value.items():
            _apply(existing, [key], item, "upsert", f"{key_path}.{key}")
        return
    node[last] = value


def validate_values(values: dict[str, Any]) -> None:
    """Known keys must have the reference's types; any other key is kept as written."""
    from pydantic import ValidationError

    from ..protocol.config_api import Config

    try:
        Config.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False)[:3]:
            where = ".".join(str(part) for part in error["loc"] if not _is_tag(part))
            problems.append(f"`{where}`: {error['msg']}")
        raise ConfigWriteError("configValidationError", "Invalid configuration: " + "; ".join(problems)) from None
    providers = values.get("model_providers")
    if providers is not None and not (
        isinstance(providers, dict) and all(isinstance(spec, dict) for spec in providers.values())
    ):
        raise ConfigWriteError(
            "configValidationError", "Invalid configuration: `model_providers` entries must be tables"
        )


def _is_tag(part: str | int) -> bool:
    return isinstance(part, str) and any(ch in part for ch in "[]()-,'")


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=".config.toml.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _set_path(values: dict[str, Any], keys: list[str], value: Any) -> None:
    node = values
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value
