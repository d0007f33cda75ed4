"""Configuration: ``$CODEX_HOME/config.toml`` with ``-c key=value`` overrides layered on top.

Owns: reading and merging config layers, the reference's key names and defaults, and the
warnings a client sees as ``configWarning``. Layer: core (imports nothing above ``store``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Our own state lives in this subfolder of CODEX_HOME, never beside the reference's files.
STATE_DIR_NAME = "agent-app-server"

DEFAULT_MODEL = "gpt-5.5"
DEFAULT_PROVIDER = "openai"
DEFAULT_APPROVAL_POLICY = "on-request"
DEFAULT_SANDBOX_MODE = "read-only"

#: Top-level keys the reference understands. Keys outside this set are ignored with a warning.
KNOWN_TOP_LEVEL_KEYS = frozenset(
    {
        "model",
        "review_model",
        "model_provider",
        "model_providers",
        "model_context_window",
        "model_auto_compact_token_limit",
        "model_reasoning_effort",
        "model_reasoning_summary",
        "model_verbosity",
        "model_supports_reasoning_summaries",
        "plan_mode_reasoning_effort",
        "personality",
        "approval_policy",
        "approvals_reviewer",
        "sandbox_mode",
        "sandbox_workspace_write",
        "shell_environment_policy",
        "features",
        "profile",
        "profiles",
        "projects",
        "mcp_servers",
        "instructions",
        "developer_instructions",
        "base_instructions",
        "model_instructions_file",
        "compact_prompt",
        "experimental_compact_prompt_file",
        "project_doc_max_bytes",
        "project_doc_fallback_filenames",
        "notify",
        "history",
        "tui",
        "file_opener",
        "hide_agent_reasoning",
        "show_raw_agent_reasoning",
        "disable_response_storage",
        "chatgpt_base_url",
        "forced_login_method",
        "forced_chatgpt_workspace_id",
        "cli_auth_credentials_store",
        "mcp_oauth_credentials_store",
        "otel",
        "tools",
        "web_search",
        "service_tier",
        "windows",
        "windows_wsl_setup_acknowledged",
        "check_for_update_on_startup",
        "analytics",
        "feedback",
        "notice",
        "skills",
        "hooks",
        "plugins",
        "marketplaces",
        "apps",
        "memories",
        "ghost_snapshot",
        "oss_provider",
        "experimental_use_unified_exec_tool",
        "experimental_use_freeform_apply_patch",
        "experimental_instructions_file",
        "include_apply_patch_tool",
        "tool_output_token_limit",
        # ours: the shared store of a fleet (docs/fleet.md)
        "store",
        # ours: the ChatGPT login's OAuth issuer, client id and local callback port
        "auth_issuer",
        "auth_client_id",
        "auth_callback_port",
    }
)

_PROVIDER_KEYS = frozenset(
    {
        "name",
        "base_url",
        "env_key",
        "env_key_instructions",
        "experimental_bearer_token",
        "wire_api",
        "query_params",
        "http_headers",
        "env_http_headers",
        "request_max_retries",
        "stream_max_retries",
        "stream_idle_timeout_ms",
        "requires_openai_auth",
        "supports_websockets",
        "auth",
    }
)

_BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": {
        "name": "OpenAI",
        "base_url": "https://api.openai.com/v1",
        "env_key": "OPENAI_API_KEY",
        "wire_api": "responses",
        "requires_openai_auth": True,
    },
    "ollama": {"name": "Ollama", "base_url": "http://localhost:11434/v1", "wire_api": "chat"},
    "lmstudio": {"name": "LM Studio", "base_url": "http://localhost:1234/v1", "wire_api": "chat"},
}


#: A loaded thread with no subscribers and nothing running is unloaded after this long
#: (``--idle-thread-unload-seconds``).
DEFAULT_IDLE_UNLOAD_S = 30 * 60.0


#: How long a server's hold on a running thread lasts without a renewal (``[store] lease_seconds``).
DEFAULT_LEASE_S = 10.0
_STORE_KEYS = frozenset({"url", "lease_seconds"})


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """``[store]``: where threads live. ``url`` None: the embedded SQLite files under the state
    directory; a ``postgresql://`` URL: a database many servers share (fleet mode)."""

    url: str | None = None
    lease_s: float = DEFAULT_LEASE_S


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    summary: str
    details: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ModelProvider:
    id: str
    name: str
    base_url: str
    wire_api: str = "responses"
    env_key: str | None = None
    query_params: dict[str, str] = field(default_factory=dict)
    http_headers: dict[str, str] = field(default_factory=dict)
    request_max_retries: int = 4
    stream_max_retries: int = 5
    stream_idle_timeout_ms: int = 300_000
    requires_openai_auth: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration of one server process."""

    codex_home: Path
    values: dict[str, Any]
    warnings: tuple[ConfigWarning, ...] = ()
    #: The ``-c key=value`` overrides applied on top of config.toml, as given (to reload with).
    overrides: tuple[str, ...] = ()
    #: MCP servers of installed, enabled plugins: name → (plugin id, server table). Read from
    #: the plugin cache when the config is loaded (``core.plugins``), so no one reads it on the loop.
    plugin_mcp_servers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.codex_home / STATE_DIR_NAME

    @property
    def store(self) -> StoreSettings:
        return store_settings(self.values, "config")

    @property
    def model(self) -> str:
        return str(self.values.get("model") or DEFAULT_MODEL)

    @property
    def model_provider_id(self) -> str:
        return str(self.values.get("model_provider") or DEFAULT_PROVIDER)

    @property
    def approval_policy(self) -> Any:
        return self.values.get("approval_policy", DEFAULT_APPROVAL_POLICY)

    @property
    def sandbox_mode(self) -> str:
        return str(self.values.get("sandbox_mode") or DEFAULT_SANDBOX_MODE)

    @property
    def reasoning_effort(self) -> str | None:
        effort = self.values.get("model_reasoning_effort")
        return str(effort) if effort is not None else None

    @property
    def reasoning_summary(self) -> str | None:
        summary = self.values.get("model_reasoning_summary")
        return str(summary) if summary is not None else None

    @property
    def workspace_write(self) -> dict[str, Any]:
        table = self.values.get("sandbox_workspace_write")
        return table if isinstance(table, dict) else {}

    @property
    def providers(self) -> dict[str, ModelProvider]:
        merged: dict[str, dict[str, Any]] = {name: dict(spec) for name, spec in _BUILTIN_PROVIDERS.items()}
        user = self.values.get("model_providers")
        if isinstance(user, dict):
            for name, spec in user.items():
                if isinstance(spec, dict):
                    merged[name] = {**merged.get(name, {}), **spec}
        return {name: _provider(name, spec) for name, spec in merged.items()}

    def provider(self, provider_id: str | None = None) -> ModelProvider:
        wanted = provider_id or self.model_provider_id
        providers = self.providers
        if wanted not in providers:
            known = ", ".join(sorted(providers))
            raise ConfigError(
                f"model provider `{wanted}` is not configured; add a [model_providers.{wanted}] table to "
                f"config.toml or use one of: {known}"
            )
        return providers[wanted]


def _provider(provider_id: str, spec: dict[str, Any]) -> ModelProvider:
    def ints(key: str, default: int) -> int:
        value = spec.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def strings(key: str) -> dict[str, str]:
        value = spec.get(key)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    return ModelProvider(
        id=provider_id,
        name=str(spec.get("name") or provider_id),
        base_url=str(spec.get("base_url") or _BUILTIN_PROVIDERS["openai"]["base_url"]),
        wire_api=str(spec.get("wire_api") or "responses"),
        env_key=str(spec["env_key"]) if spec.get("env_key") else None,
        query_params=strings("query_params"),
        http_headers=strings("http_headers"),
        request_max_retries=ints("request_max_retries", 4),
        stream_max_retries=ints("stream_max_retries", 5),
        stream_idle_timeout_ms=ints("stream_idle_timeout_ms", 300_000),
        requires_openai_auth=bool(spec.get("requires_openai_auth", False)),
    )


def codex_home_from_env(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("CODEX_HOME")
    home = Path(raw).expanduser() if raw else Path.home() / ".codex"
    return home.absolute()


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` → (["a","b"], value). The value is TOML when it parses, else a plain string
    (as the reference does, so ``-c model=gpt-5.5`` needs no quotes)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f'invalid -c override {text!r}: expected key=value, e.g. -c model="gpt-5.5"')
    raw = raw.strip()
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [part.strip() for part in key.split(".")], value


def load_config(codex_home: Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read ``config.toml`` (missing is fine) and apply ``-c`` overrides in order."""
    path = codex_home / "config.toml"
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}. Fix that line or move the file away.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
    for text in overrides:
        keys, value = parse_override(text)
        _set_path(values, keys, value)
    store_settings(values, str(path))  # refuse a bad [store] before anything opens
    warnings = tuple(_unknown_key_warnings(values, str(path)))
    plugin_servers: dict[str, tuple[str, dict[str, Any]]] = {}
    if values.get("plugins"):
        from .plugins import plugin_mcp_servers

        plugin_servers = plugin_mcp_servers(codex_home, values)
    return Config(
        codex_home=codex_home,
        values=values,
        warnings=warnings,
        overrides=tuple(overrides),
        plugin_mcp_servers=plugin_servers,
    )


def store_settings(values: dict[str, Any], path: str) -> StoreSettings:
    """The ``[store]`` table; raises ``ConfigError`` saying what to fix."""
    table = values.get("store", {})
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: `store` must be a table, e.g. [store] url = "postgresql://host/db"')
    url = table.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://"))):
        raise ConfigError(
            f"{path}: store.url must be a postgresql:// URL (e.g. postgresql://user@host/db), got {url!r}; "
            "leave it unset for the embedded SQLite store"
        )
    lease = table.get("lease_seconds", DEFAULT_LEASE_S)
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not 0 < lease <= 3600:
        raise ConfigError(f"{path}: store.lease_seconds must be a number of seconds in (0, 3600], got {lease!r}")
    return StoreSettings(url=url, lease_s=float(lease))


def _set_path(values: dict[str, Any], keys: list[str], value: Any) -> None:
    node = values
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[keys[-1]] = value


def _unknown_key_warnings(values: dict[str, Any], path: str) -> list[ConfigWarning]:
    found = [
        ConfigWarning(f"Ignoring unknown config key `{key}`", "It is not a key this server understands.", path)
        for key in values
        if key not in KNOWN_TOP_LEVEL_KEYS
    ]
    store = values.get("store")
    if isinstance(store, dict):
        found.extend(
            ConfigWarning(f"Ignoring unknown config key `store.{key}`", "Known: url, lease_seconds.", path)
            for key in store
            if key not in _STORE_KEYS
        )
    providers = values.get("model_providers")
    if isinstance(providers, dict):
        for name, spec in providers.items():
            if not isinstance(spec, dict):
                found.append(ConfigWarning(f"Ignoring `model_providers.{name}`: expected a table", None, path))
                continue
            found.extend(
                ConfigWarning(f"Ignoring unknown config key `model_providers.{name}.{key}`", None, path)
                for key in spec
                if key not in _PROVIDER_KEYS
            )
    return found
