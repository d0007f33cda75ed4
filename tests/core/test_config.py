"""core/config.py: config.toml plus ``-c`` overrides, defaults, providers, and the warnings and
errors a user sees for a file they got wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.core.config import (
    DEFAULT_LEASE_S,
    DEFAULT_MODEL,
    ConfigError,
    StoreSettings,
    codex_home_from_env,
    load_config,
    parse_override,
)
from support.model_config import write_mock_config


def test_a_missing_file_means_the_defaults(codex_home: Path) -> None:
    config = load_config(codex_home)
    assert config.values == {} and config.warnings == ()
    assert (config.model, config.model_provider_id, config.sandbox_mode) == (DEFAULT_MODEL, "openai", "read-only")
    assert config.approval_policy == "on-request"
    assert config.reasoning_effort is None and config.workspace_write == {}
    assert config.state_dir == codex_home / "agent-app-server"


def test_overrides_apply_in_order_over_the_file(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text('model = "from-file"\n[sandbox_workspace_write]\nnetwork_access = false\n')
    config = load_config(
        codex_home, ["model=from-flag", "sandbox_workspace_write.network_access=true", "model=last-wins"]
    )
    assert config.model == "last-wins"
    assert config.workspace_write == {"network_access": True}
    assert config.overrides == ("model=from-flag", "sandbox_workspace_write.network_access=true", "model=last-wins")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('model="gpt-5.5"', (["model"], "gpt-5.5")),
        ("model=gpt-5.5", (["model"], "gpt-5.5")),  # not TOML: taken as a plain string
        ("a.b.c = 3", (["a", "b", "c"], 3)),
        ("flags=[1, 2]", (["flags"], [1, 2])),
    ],
)
def test_override_values_are_toml_or_a_string(text: str, parsed: tuple[list[str], object]) -> None:
    assert parse_override(text) == parsed


@pytest.mark.parametrize("text", ["no-equals-sign", "=value"])
def test_a_malformed_override_says_the_expected_form(text: str) -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override(text)


def test_invalid_toml_names_the_file_and_what_to_do(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text("model = \n")
    with pytest.raises(ConfigError, match=r"config\.toml is not valid TOML: .*line 1.*Fix that line"):
        load_config(codex_home)


def test_unknown_keys_are_warnings_not_errors(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text(
        'not_a_key = 1\nmodel = "m"\n[model_providers.mine]\nbase_url = "http://x"\nbogus = 2\n'
        "[model_providers]\nbroken = 3\n"
    )
    config = load_config(codex_home)
    assert [warning.summary for warning in config.warnings] == [
        "Ignoring unknown config key `not_a_key`",
        "Ignoring unknown config key `model_providers.mine.bogus`",
        "Ignoring `model_providers.broken`: expected a table",
    ]
    assert config.model == "m"


def test_user_providers_merge_over_the_built_in_ones(codex_home: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1", extra='[model_providers.openai]\nname = "Mine"\n')
    config = load_config(codex_home)
    mock = config.provider()
    assert (mock.id, mock.base_url, mock.env_key, mock.request_max_retries) == (
        "mock",
        "http://127.0.0.1:9/v1",
        "MOCK_API_KEY",
        0,
    )
    openai = config.provider("openai")
    assert openai.name == "Mine" and openai.base_url == "https://api.openai.com/v1"
    with pytest.raises(ConfigError, match=r"add a \[model_providers.nope\] table .* one of: .*mock, .*openai"):
        config.provider("nope")


def test_codex_home_comes_from_the_environment(tmp_path: Path) -> None:
    assert codex_home_from_env({"CODEX_HOME": str(tmp_path)}) == tmp_path
    assert codex_home_from_env({}) == Path.home() / ".codex"


def test_the_store_is_sqlite_unless_a_postgresql_url_is_set(codex_home: Path) -> None:
    assert load_config(codex_home).store == StoreSettings(url=None, lease_s=DEFAULT_LEASE_S)
    (codex_home / "config.toml").write_text('[store]\nurl = "postgresql://app@db/threads"\nlease_seconds = 3\n')
    assert load_config(codex_home).store == StoreSettings(url="postgresql://app@db/threads", lease_s=3.0)
    overridden = load_config(codex_home, ['store.url="postgres://other/db"'])
    assert overridden.store.url == "postgres://other/db" and overridden.warnings == ()


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[store]\nurl = "sqlite:///x.db"', "store.url must be a postgresql:// URL"),
        ("[store]\nurl = 5", "store.url must be a postgresql:// URL"),
        ("[store]\nlease_seconds = 0", "store.lease_seconds must be a number of seconds"),
        ('[store]\nlease_seconds = "10"', "store.lease_seconds must be a number of seconds"),
        ('store = "postgresql://x/y"', "`store` must be a table"),
    ],
)
def test_a_bad_store_table_is_refused_with_what_to_fix(codex_home: Path, table: str, needle: str) -> None:
    (codex_home / "config.toml").write_text(table + "\n")
    with pytest.raises(ConfigError, match=needle) as excinfo:
        load_config(codex_home)
    assert str(codex_home / "config.toml") in str(excinfo.value)


def test_an_unknown_store_key_is_a_warning(codex_home: Path) -> None:
    (codex_home / "config.toml").write_text('[store]\nurl = "postgresql://x/y"\npool = 3\n')
    assert [w.summary for w in load_config(codex_home).warnings] == ["Ignoring unknown config key `store.pool`"]
