"""The real-model tier: SmolLM2-135M served by llama-cpp-python's server and by llama.cpp's
``llama-server``, driven through our server (a real process over stdio).

It runs whenever its build is cached (``.cache/models-venv``, ``.cache/llama-server``), in CI too;
otherwise every test is skipped with a message that says how to build it
(``scripts/dev.sh test-models``). A session-level line in the report says which happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from support.local_models import ModelServer, llama_cpp_python, llama_server, llama_server_unavailable, tier_unavailable


def pytest_report_header() -> list[str]:
    reason = tier_unavailable()
    if reason is not None:
        return [reason]
    server = llama_server_unavailable()
    return ["real-model tier: running (build cached in .cache/models-venv)", *([server] if server else [])]


async def _serve(
    unavailable: str | None, make: Callable[[Path], ModelServer], log_dir: Path
) -> AsyncIterator[ModelServer]:
    if unavailable is not None:
        pytest.skip(unavailable)
    async with make(log_dir) as server:
        yield server


@pytest.fixture
async def chat_model(tmp_path: Path) -> AsyncIterator[ModelServer]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2, on a free 127.0.0.1 port."""
    async for server in _serve(tier_unavailable(), llama_cpp_python, tmp_path / "logs"):
        yield server


@pytest.fixture
async def llama_cpp_server(tmp_path: Path) -> AsyncIterator[ModelServer]:
    """llama.cpp's own llama-server with SmolLM2 (chat completions and the Responses API)."""
    async for server in _serve(llama_server_unavailable(), llama_server, tmp_path / "logs"):
        yield server
