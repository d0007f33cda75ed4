"""Thread methods through the real server over stdio: start, read, list, name, archive, restart."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.store import ThreadRecord
from support.seed import make_records, seed_threads
from support.server_process import ServerProcess

INTERACTIVE = {"cli", "vscode", "appServer", "unknown"}


@pytest.mark.compat("thread:source")
async def test_thread_start_reply_then_started(server: ServerProcess, tmp_path: Path) -> None:
    result = await server.result("thread/start", {"cwd": str(tmp_path)})
    thread = result["thread"]
    assert thread["status"] == {"type": "idle"}
    assert thread["cwd"] == str(tmp_path)
    assert thread["sessionId"] == thread["id"]
    assert thread["originator"] == "test_client"
    assert thread["source"] == "appServer", "a custom client's thread must not claim to be vscode"
    assert thread["turns"] == [] and thread["ephemeral"] is False
    assert result["sandbox"] == {"type": "readOnly", "networkAccess": False}
    assert result["approvalPolicy"] == "on-request"
    started = await server.notification("thread/started")
    assert started["params"]["thread"]["id"] == thread["id"]
    # Reply before notification on the wire.
    kinds = ["result" if "result" in m else m.get("method") for m in server.received[1:]]
    assert kinds[:2] == ["result", "thread/started"]
    assert await server.result("thread/loaded/list", {}) == {"data": [thread["id"]], "nextCursor": None}


async def test_vscode_client_threads_are_vscode(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.initialize("codex_vscode")
    thread = (await server.result("thread/start", {}))["thread"]
    assert thread["source"] == "vscode" and thread["originator"] == "codex_vscode"


async def test_thread_start_rejects_unknown_provider_and_sandbox(server: ServerProcess) -> None:
    # A relative cwd is accepted (tests/regressions/test_relative_paths_resolved.py).
    error = (await server.call("thread/start", {"modelProvider": "nope"}))["error"]
    assert error["code"] == -32602 and "nope" in error["message"]
    error = (await server.call("thread/start", {"sandbox": "sometimes"}))["error"]
    assert error["code"] == -32602 and "sandbox" in error["message"]


async def test_unmaterialized_thread_is_readable_but_not_listed(server: ServerProcess) -> None:
    thread = (await server.result("thread/start", {}))["thread"]
    read = await server.result("thread/read", {"threadId": thread["id"]})
    assert read["thread"]["id"] == thread["id"] and read["thread"]["status"] == {"type": "idle"}
    listed = await server.result("thread/list", {})
    assert listed["data"] == [] and listed["nextCursor"] is None


@pytest.mark.compat("rpc:standard-codes")
@pytest.mark.compat("thread:read-unknown")
async def test_read_errors(server: ServerProcess) -> None:
    missing = "019a0000-0000-7000-8000-000000000000"
    error = (await server.call("thread/read", {"threadId": missing}))["error"]
    assert error == {"code": -32602, "message": f"thread not found: {missing}"}
    error = (await server.call("thread/read", {"threadId": "not-a-uuid"}))["error"]
    assert error["code"] == -32602 and error["message"].startswith("invalid thread id")
    error = (await server.call("thread/read", {"threadId": 5}))["error"]
    assert error["code"] == -32602 and "`threadId`" in error["message"]
    error = (await server.call("thread/read", {}))["error"]
    assert error["code"] == -32602 and "`threadId`" in error["message"] and "required" in error["message"]


def _title(record: ThreadRecord) -> str:
    return record.name or record.preview


def _expected(
    records: list[ThreadRecord],
    *,
    key: str = "created_at",
    desc: bool = True,
    archived: bool = False,
    providers: list[str] | None = None,
    kinds: list[str] | None = None,
    cwds: list[str] | None = None,
    term: str | None = None,
) -> list[str]:
    chosen = [
        r
        for r in records
        if r.archived == archived
        and (not providers or r.model_provider in providers)
        and r.source_kind in (set(kinds) if kinds else INTERACTIVE)
        and (not cwds or r.cwd in cwds)
        and (term is None or term.casefold() in _title(r).casefold())
    ]
    chosen.sort(key=lambda r: (getattr(r, key), r.id), reverse=desc)
    return [r.id for r in chosen]


async def _all_pages(server: ServerProcess, params: dict[str, Any], limit: int = 25) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(1000):
        page = await server.result("thread/list", {**params, "limit": limit, "cursor": cursor})
        assert len(page["data"]) <= limit
        ids += [t["id"] for t in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids
    raise AssertionError("pagination did not end")


@pytest.fixture
async def seeded(spawn, codex_home: Path) -> tuple[ServerProcess, list[ThreadRecord]]:  # type: ignore[no-untyped-def]
    records = make_records(1000)
    await seed_threads(codex_home, records)
    server: ServerProcess = await spawn()
    await server.initialize()
    return server, records


async def test_list_default_page(seeded: tuple[ServerProcess, list[ThreadRecord]]) -> None:
    server, records = seeded
    page = await server.result("thread/list", {})
    assert [t["id"] for t in page["data"]] == _expected(records)[:25]
    assert page["nextCursor"] and page["backwardsCursor"]
    assert all(t["status"] == {"type": "notLoaded"} and t["turns"] == [] for t in page["data"])


@pytest.mark.parametrize("key", ["created_at", "updated_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_paging_through_everything(
    seeded: tuple[ServerProcess, list[ThreadRecord]], key: str, direction: str
) -> None:
    server, records = seeded
    ids = await _all_pages(server, {"sortKey": key, "sortDirection": direction}, limit=97)
    assert ids == _expected(records, key=key, desc=direction == "desc")


@pytest.mark.parametrize(
    ("params", "filters"),
    [
        ({"archived": True}, {"archived": True}),
        ({"modelProviders": ["mock"]}, {"providers": ["mock"]}),
        ({"modelProviders": []}, {}),
        ({"modelProviders": ["mock", "ollama"]}, {"providers": ["mock", "ollama"]}),
        ({"sourceKinds": ["exec"]}, {"kinds": ["exec"]}),
        ({"sourceKinds": ["cli", "exec"]}, {"kinds": ["cli", "exec"]}),
        ({"cwd": "/work/b"}, {"cwds": ["/work/b"]}),
        ({"cwd": ["/work/b", "/srv/c"]}, {"cwds": ["/work/b", "/srv/c"]}),
        ({"searchTerm": "PARSER"}, {"term": "PARSER"}),
        ({"searchTerm": "named thread 1"}, {"term": "named thread 1"}),
        (
            {"searchTerm": "bug", "modelProviders": ["openai"], "cwd": "/work/a", "sortKey": "updated_at"},
            {"term": "bug", "providers": ["openai"], "cwds": ["/work/a"], "key": "updated_at"},
        ),
    ],
)
async def test_every_filter(
    seeded: tuple[ServerProcess, list[ThreadRecord]], params: dict[str, Any], filters: dict[str, Any]
) -> None:
    server, records = seeded
    assert await _all_pages(server, params, limit=50) == _expected(records, **filters)


async def test_cursor_stays_correct_while_threads_are_inserted(
    seeded: tuple[ServerProcess, list[ThreadRecord]], codex_home: Path
) -> None:
    server, records = seeded
    first = await server.result("thread/list", {"limit": 100})
    newer = make_records(50, seed=99, base=max(r.created_at for r in records) + 10)
    await seed_threads(codex_home, newer)
    ids = [t["id"] for t in first["data"]]
    cursor = first["nextCursor"]
    while cursor:
        page = await server.result("thread/list", {"limit": 100, "cursor": cursor})
        ids += [t["id"] for t in page["data"]]
        cursor = page["nextCursor"]
    assert ids == _expected(records)
    # The new threads are on top for a fresh listing.
    top = await server.result("thread/list", {"limit": 5})
    assert {t["id"] for t in top["data"]} <= {r.id for r in newer}


async def test_backwards_cursor(seeded: tuple[ServerProcess, list[ThreadRecord]]) -> None:
    server, records = seeded
    expected = _expected(records)
    page1 = await server.result("thread/list", {"limit": 30})
    page2 = await server.result("thread/list", {"limit": 30, "cursor": page1["nextCursor"]})
    back = await server.result("thread/list", {"limit": 30, "cursor": page2["backwardsCursor"], "sortDirection": "asc"})
    assert [t["id"] for t in back["data"]] == list(reversed(expected[:30]))


async def test_excluded_ids_and_bad_list_params(seeded: tuple[ServerProcess, list[ThreadRecord]]) -> None:
    server, records = seeded
    expected = _expected(records)
    page = await server.result("thread/list", {"limit": 10, "excludedThreadIds": expected[:3]})
    assert [t["id"] for t in page["data"]] == expected[3:13]
    error = (await server.call("thread/list", {"cursor": "garbage"}))["error"]
    assert error == {"code": -32602, "message": "invalid cursor: garbage"}
    error = (await server.call("thread/list", {"limit": "ten"}))["error"]
    assert error["code"] == -32602 and "`limit`" in error["message"]
    error = (await server.call("thread/list", {"sourceKinds": ["nope"]}))["error"]
    assert error["code"] == -32602 and "sourceKinds" in error["message"]
    error = (await server.call("thread/list", {"excludedThreadIds": ["x"] * 101}))["error"]
    assert error["code"] == -32602 and "100" in error["message"]


@pytest.mark.compat("thread:name-empty")
async def test_name_archive_unarchive_and_restart(
    seeded: tuple[ServerProcess, list[ThreadRecord]],
    spawn,
    codex_home: Path,  # type: ignore[no-untyped-def]
) -> None:
    server, records = seeded
    target = _expected(records)[0]
    assert await server.result("thread/name/set", {"threadId": target, "name": "  Renamed  "}) == {}
    updated = await server.notification("thread/name/updated")
    assert updated["params"] == {"threadId": target, "threadName": "Renamed"}
    assert (await server.result("thread/read", {"threadId": target}))["thread"]["name"] == "Renamed"

    assert await server.result("thread/archive", {"threadId": target}) == {}
    assert (await server.notification("thread/archived"))["params"] == {"threadId": target}
    assert target not in [t["id"] for t in (await server.result("thread/list", {}))["data"]]
    archived = await _all_pages(server, {"archived": True}, limit=200)
    assert target in archived

    await server.stop()
    again: ServerProcess = await spawn()
    await again.initialize()
    assert await again.result("thread/loaded/list", {}) == {"data": [], "nextCursor": None}
    read = (await again.result("thread/read", {"threadId": target}))["thread"]
    assert read["name"] == "Renamed" and read["status"] == {"type": "notLoaded"}
    assert target in await _all_pages(again, {"archived": True}, limit=200)

    unarchived = await again.result("thread/unarchive", {"threadId": target})
    assert unarchived["thread"]["id"] == target
    assert (await again.notification("thread/unarchived"))["params"] == {"threadId": target}
    assert (await again.result("thread/list", {"limit": 1}))["data"][0]["id"] == target


@pytest.mark.compat("thread:name-empty")
async def test_name_must_not_be_empty(seeded: tuple[ServerProcess, list[ThreadRecord]]) -> None:
    server, records = seeded
    error = (await server.call("thread/name/set", {"threadId": records[0].id, "name": "   "}))["error"]
    assert error["code"] == -32602 and "empty" in error["message"]


@pytest.mark.compat("thread:archive-unsaved")
async def test_a_thread_without_a_turn_cannot_be_archived(server: ServerProcess) -> None:
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    error = (await server.call("thread/archive", {"threadId": thread_id}))["error"]
    assert error["code"] == -32602 and "nothing to archive" in error["message"]
    # Still loaded and usable.
    assert thread_id in (await server.result("thread/loaded/list", {}))["data"]


@pytest.mark.compat("thread:list-limit")
async def test_list_limit_bounds(spawn, codex_home: Path) -> None:  # type: ignore[no-untyped-def]
    records = [
        dataclasses.replace(r, archived=False, archived_at=None, source_kind="cli", source="cli")
        for r in make_records(1005)
    ]
    await seed_threads(codex_home, records)
    server: ServerProcess = await spawn()
    await server.initialize()
    for limit in (0, -1):
        error = (await server.call("thread/list", {"limit": limit}))["error"]
        assert error["code"] == -32602 and "limit" in error["message"]
    page = await server.result("thread/list", {"limit": 5000})
    assert len(page["data"]) == 1000 and page["nextCursor"]
    rest = await server.result("thread/list", {"limit": 5000, "cursor": page["nextCursor"]})
    assert len(rest["data"]) == 5 and rest["nextCursor"] is None


async def test_unsubscribe_statuses(server: ServerProcess) -> None:
    thread = (await server.result("thread/start", {}))["thread"]
    assert await server.result("thread/unsubscribe", {"threadId": thread["id"]}) == {"status": "unsubscribed"}
    assert await server.result("thread/unsubscribe", {"threadId": thread["id"]}) == {"status": "notSubscribed"}
    other = "019a0000-0000-7000-8000-000000000001"
    assert await server.result("thread/unsubscribe", {"threadId": other}) == {"status": "notLoaded"}
    # Still loaded after the last subscriber left (as the reference).
    assert thread["id"] in (await server.result("thread/loaded/list", {}))["data"]


async def test_loaded_list_pages(server: ServerProcess) -> None:
    ids = sorted([(await server.result("thread/start", {}))["thread"]["id"] for _ in range(5)])
    page = await server.result("thread/loaded/list", {"limit": 2})
    assert page == {"data": ids[:2], "nextCursor": ids[1]}
    page = await server.result("thread/loaded/list", {"limit": 2, "cursor": page["nextCursor"]})
    assert page["data"] == ids[2:4]
    page = await server.result("thread/loaded/list", {"limit": 2, "cursor": page["nextCursor"]})
    assert page == {"data": ids[4:], "nextCursor": None}


async def test_ephemeral_threads_are_flagged(server: ServerProcess) -> None:
    thread = (await server.result("thread/start", {"ephemeral": True}))["thread"]
    assert thread["ephemeral"] is True


async def test_metadata_update_patches_git_info_field_by_field(server: ServerProcess) -> None:
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    first = await server.result("thread/metadata/update", {"threadId": thread_id, "gitInfo": {"branch": "main"}})
    assert first["thread"]["gitInfo"] == {"sha": None, "branch": "main", "originUrl": None}
    second = await server.result(
        "thread/metadata/update", {"threadId": thread_id, "gitInfo": {"sha": "abc123", "originUrl": "git@x:y.git"}}
    )
    assert second["thread"]["gitInfo"] == {"sha": "abc123", "branch": "main", "originUrl": "git@x:y.git"}
    cleared = await server.result("thread/metadata/update", {"threadId": thread_id, "gitInfo": {"branch": None}})
    assert cleared["thread"]["gitInfo"] == {"sha": "abc123", "branch": None, "originUrl": "git@x:y.git"}
    read = await server.result("thread/read", {"threadId": thread_id})
    assert read["thread"]["gitInfo"] == cleared["thread"]["gitInfo"]

    nothing = await server.call("thread/metadata/update", {"threadId": thread_id})
    assert nothing["error"]["code"] == -32602 and "at least one field" in nothing["error"]["message"]
    empty = await server.call("thread/metadata/update", {"threadId": thread_id, "gitInfo": {"branch": ""}})
    assert empty["error"]["code"] == -32602 and "gitInfo.branch must not be empty" in empty["error"]["message"]
    unknown = await server.call(
        "thread/metadata/update", {"threadId": "01a23592-0000-7000-8000-000000000000", "gitInfo": {"sha": "x"}}
    )
    assert unknown["error"]["code"] == -32602
    server.assert_schema_clean()
