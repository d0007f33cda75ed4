"""A CODEX_HOME whose config points the `mock` provider at a fake model server (as the
reference README does for its oracle runs)."""

from __future__ import annotations

from pathlib import Path


def write_mock_config(
    codex_home: Path, base_url: str, *, model: str = "mock-model", wire_api: str = "responses", extra: str = ""
) -> None:
    (codex_home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "mock"\n'
        f"{extra}\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{base_url}"\n'
        f'wire_api = "{wire_api}"\n'
        'env_key = "MOCK_API_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
