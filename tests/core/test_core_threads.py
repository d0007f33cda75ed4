"""core/threads.py: threads in memory until their first turn, the stored record behind them,
and the errors a client sees for ids it got wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.errors import InvalidThreadId, ThreadNotFound, checked_thread_id
from agent_app_server.core.thread_basics import ClientIdentity
from agent_app_server.core.threads import ThreadManager
from agent_app_server.rpc.errors import InvalidParams
from agent_app_server.store import ThreadStore
from support.recording_sink import RecordingSink

LIST_ALL: dict[str, Any] = {
    "cursor": None,
    "limit": None,
    "sort_key": None,
    "sort_direction": None,
    "archived": None,
    "model_providers": None,
    "source_kinds": None,
    "cwds": None,
    "search_term": None,
    "excluded_ids": None,
}


async def listed(threads: ThreadManager, **query: Any) -> list[str]:
    page, _, _ = await threads.list_threads(**{**LIST_ALL, **query})
    return [thread.id for thread in page]


async def test_a_new_thread_is_stored_only_at_materialize(
    threads: ThreadManager, store: ThreadStore, tmp_path: Path
) -> None:
    thread = threads.start_thread(ClientIdentity("vscode"), threads.default_settings(str(tmp_path)))
    assert threads.loaded(thread.id) is thread
    assert await store.get_thread(thread.id) is None
    assert await listed(threads) == []

    await threads.materialize(thread)
    stored = await store.get_thread(thread.id)
    assert stored is not None and stored.cwd == str(tmp_path) and stored.source == "vscode"
    assert await listed(threads) == [thread.id]


async def test_ephemeral_threads_never_reach_the_store(
    threads: ThreadManager, store: ThreadStore, tmp_path: Path
) -> None:
    thread = threads.start_thread(ClientIdentity("x"), threads.default_settings(str(tmp_path)), ephemeral=True)
    await threads.materialize(thread)
    assert await store.get_thread(thread.id) is None
    assert thread.record.source == "appServer"  # an unknown client name


async def test_resume_after_unload_reads_the_stored_settings(
    threads: ThreadManager, sink: RecordingSink, tmp_path: Path
) -> None:
    settings = threads.default_settings(str(tmp_path))
    settings.model = "chosen-model"
    thread = threads.start_thread(ClientIdentity("cli"), settings)
    await threads.materialize(thread)

    threads.unload(thread.id)
    assert threads.loaded(thread.id) is None
    assert sink.notifications[-1] == (
        thread.id,
        "thread/status/changed",
        {"threadId": thread.id, "status": {"type": "notLoaded"}},
    )

    resumed, loaded_now = await threads.resume(thread.id)
    assert loaded_now and resumed.materialized and resumed.settings.model == "chosen-model"
    assert await threads.resume(thread.id) == (resumed, False)


async def test_name_archive_unarchive_delete(threads: ThreadManager, store: ThreadStore, tmp_path: Path) -> None:
    thread = threads.start_thread(ClientIdentity("cli"), threads.default_settings(str(tmp_path)))
    with pytest.raises(InvalidParams, match="nothing to archive"):
        await threads.archive(thread.id)
    await threads.materialize(thread)

    assert await threads.set_name(thread.id, "  my thread ") == (thread.id, "my thread")
    with pytest.raises(InvalidParams, match="must not be empty"):
        await threads.set_name(thread.id, "   ")

    await threads.archive(thread.id)
    assert threads.loaded(thread.id) is None
    assert await listed(threads) == []
    assert await listed(threads, archived=True) == [thread.id]

    record = await threads.unarchive(thread.id)
    assert record.name == "my thread" and not record.archived
    assert await listed(threads) == [thread.id]

    assert await threads.delete(thread.id) == thread.id
    assert await store.get_thread(thread.id) is None
    with pytest.raises(InvalidParams, match="no rollout found"):
        await threads.delete(thread.id)


async def test_unknown_and_malformed_ids(threads: ThreadManager) -> None:
    unknown = "019a0000-0000-7000-8000-00000000abcd"
    with pytest.raises(ThreadNotFound):
        await threads.read(unknown)
    with pytest.raises(InvalidParams, match="no rollout found"):
        await threads.resume(unknown)
    with pytest.raises(InvalidParams, match="thread/resume first"):
        threads.require_loaded(unknown)
    with pytest.raises(InvalidThreadId):
        checked_thread_id("not-a-uuid")
    assert checked_thread_id(f"urn:uuid:{unknown}") == unknown


async def test_list_arguments_are_checked(threads: ThreadManager) -> None:
    with pytest.raises(InvalidParams, match="limit must be at least 1"):
        await listed(threads, limit=0)
    with pytest.raises(InvalidParams, match="sectionId"):
        await listed(threads, sort_key="section_position")
    with pytest.raises(InvalidParams, match="at most 100"):
        await listed(threads, excluded_ids=["019a0000-0000-7000-8000-00000000abcd"] * 101)


def test_default_settings_follow_the_config_and_resolve_a_relative_cwd(threads: ThreadManager, tmp_path: Path) -> None:
    settings = threads.default_settings(str(tmp_path / "a" / ".." / "b"))
    assert settings.cwd == str(tmp_path / "b")
    assert settings.sandbox_policy["type"] == "readOnly"  # the default sandbox_mode
    # As the reference: a relative cwd (clients send ".") is taken against the server's own.
    assert threads.default_settings("relative/dir").cwd == os.path.join(os.getcwd(), "relative", "dir")
