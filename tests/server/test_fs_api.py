"""fs/* and fuzzyFileSearch through the real server: every method, its bad inputs, and a watch
that sees a change."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from support.server_process import ServerProcess


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def real(path: Path) -> str:
    return os.path.realpath(path)


def error_of(response: dict[str, Any]) -> tuple[int, str]:
    assert "error" in response, response
    return response["error"]["code"], response["error"]["message"]


@pytest.mark.compat("fs:read-directory-order")
@pytest.mark.compat("fs:metadata-created")
async def test_files_round_trip(server: ServerProcess, tmp_path: Path) -> None:
    work = tmp_path / "work"  # tmp_path also holds the server's CODEX_HOME
    work.mkdir()
    data = bytes(range(256)) * 3
    target = work / "nested" / "deeper"
    assert await server.result("fs/createDirectory", {"path": str(target)}) == {}
    assert await server.result("fs/writeFile", {"path": str(target / "blob.bin"), "dataBase64": b64(data)}) == {}
    read = await server.result("fs/readFile", {"path": str(target / "blob.bin")})
    assert base64.b64decode(read["dataBase64"]) == data
    # Paths are normalized before use.
    read = await server.result("fs/readFile", {"path": f"{work}/nested/../nested/deeper/./blob.bin"})
    assert base64.b64decode(read["dataBase64"]) == data

    meta = await server.result("fs/getMetadata", {"path": str(target / "blob.bin")})
    assert (meta["isFile"], meta["isDirectory"], meta["isSymlink"]) == (True, False, False)
    assert abs(meta["modifiedAtMs"] - os.stat(target / "blob.bin").st_mtime * 1000) < 1000
    assert meta["createdAtMs"] == 0  # no birth time from Python's stat on Linux
    os.symlink(target, work / "link")
    meta = await server.result("fs/getMetadata", {"path": str(work / "link")})
    assert (meta["isFile"], meta["isDirectory"], meta["isSymlink"]) == (False, True, True)

    (work / "a.txt").write_text("a")
    listing = await server.result("fs/readDirectory", {"path": str(work)})
    assert listing["entries"] == [
        {"fileName": "a.txt", "isDirectory": False, "isFile": True},
        {"fileName": "link", "isDirectory": True, "isFile": False},
        {"fileName": "nested", "isDirectory": True, "isFile": False},
    ]

    assert (
        await server.result("fs/copy", {"sourcePath": str(work / "a.txt"), "destinationPath": str(work / "b.txt")})
        == {}
    )
    assert (work / "b.txt").read_text() == "a"
    os.symlink("blob.bin", target / "alias")
    copy = {"sourcePath": str(work / "nested"), "destinationPath": str(work / "copy"), "recursive": True}
    assert await server.result("fs/copy", copy) == {}
    assert (work / "copy" / "deeper" / "blob.bin").read_bytes() == data
    assert os.readlink(work / "copy" / "deeper" / "alias") == "blob.bin"

    assert await server.result("fs/remove", {"path": str(work / "copy")}) == {}
    assert not (work / "copy").exists()
    assert await server.result("fs/remove", {"path": str(work / "b.txt")}) == {}
    # A missing path is fine by default (force defaults to true).
    assert await server.result("fs/remove", {"path": str(work / "b.txt")}) == {}


@pytest.mark.compat("fs:errors")
async def test_bad_file_requests(server: ServerProcess, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "inside.txt").write_text("x")
    (tmp_path / "file.txt").write_text("x")

    for method, params in [
        ("fs/readFile", {"path": "relative/file.txt"}),
        ("fs/writeFile", {"path": "out.bin", "dataBase64": ""}),
        ("fs/getMetadata", {"path": "."}),
        ("fs/copy", {"sourcePath": str(tmp_path / "file.txt"), "destinationPath": "copy.txt"}),
        ("fs/watch", {"watchId": "w", "path": "src"}),
    ]:
        code, message = error_of(await server.call(method, params))
        assert code == -32602 and "must be an absolute path" in message, message
    assert (
        "`destinationPath`"
        in error_of(
            await server.call("fs/copy", {"sourcePath": str(tmp_path / "file.txt"), "destinationPath": "c.txt"})
        )[1]
    )

    async def fails(method: str, params: dict[str, Any], *expected: str) -> None:
        code, message = error_of(await server.call(method, params))
        assert code == -32602 and all(part in message for part in expected), message

    await fails("fs/readFile", {"path": str(tmp_path / "dir")}, "is a directory", "fs/readDirectory")
    await fails("fs/readFile", {"path": str(tmp_path / "missing")}, str(tmp_path / "missing"), "no such file")
    await fails("fs/readDirectory", {"path": str(tmp_path / "file.txt")}, "not a directory")
    await fails("fs/writeFile", {"path": str(tmp_path / "x.bin"), "dataBase64": "not base64!"}, "base64")
    await fails("fs/writeFile", {"path": str(tmp_path / "no" / "x.bin"), "dataBase64": ""}, "parent directory")
    await fails("fs/createDirectory", {"path": str(tmp_path / "dir"), "recursive": False}, "already exists")
    await fails("fs/createDirectory", {"path": str(tmp_path / "file.txt")}, str(tmp_path / "file.txt"))
    await fails("fs/remove", {"path": str(tmp_path / "missing"), "force": False}, "does not exist")
    await fails("fs/remove", {"path": str(tmp_path / "dir"), "recursive": False}, "not empty", "recursive: true")
    await fails(
        "fs/copy",
        {"sourcePath": str(tmp_path / "dir"), "destinationPath": str(tmp_path / "dir2")},
        "recursive: true",
    )
    await fails(
        "fs/copy",
        {"sourcePath": str(tmp_path / "dir"), "destinationPath": str(tmp_path / "dir" / "sub"), "recursive": True},
        "into itself",
    )
    await fails(
        "fs/copy",
        {"sourcePath": str(tmp_path / "file.txt"), "destinationPath": str(tmp_path / "file.txt")},
        "same file",
    )
    await fails("fs/copy", {"sourcePath": str(tmp_path / "nope"), "destinationPath": str(tmp_path / "x")}, "no such")
    await fails("fs/getMetadata", {"path": str(tmp_path / "nope")}, "no such file")
    # Nothing was damaged along the way.
    assert (tmp_path / "file.txt").read_text() == "x" and (tmp_path / "dir" / "inside.txt").exists()
    assert not (tmp_path / "dir2").exists()


@pytest.mark.compat("fs:watch-targets")
async def test_watch_sees_changes(server: ServerProcess, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    watched.mkdir()
    (tmp_path / "HEAD").write_text("ref: main\n")
    reply = await server.result("fs/watch", {"watchId": "dir", "path": str(watched)})
    assert reply == {"path": real(watched)}
    assert await server.result("fs/watch", {"watchId": "head", "path": str(tmp_path / "HEAD")}) == {
        "path": real(tmp_path / "HEAD")
    }
    code, message = error_of(await server.call("fs/watch", {"watchId": "dir", "path": str(tmp_path)}))
    assert code == -32602 and "watchId already exists: dir" in message

    (watched / "new.txt").write_text("hello")
    changed = await server.notification("fs/changed", timeout=15)
    assert changed["params"]["watchId"] == "dir"
    assert real(watched / "new.txt") in changed["params"]["changedPaths"]

    (tmp_path / "HEAD").write_text("ref: other\n")
    changed = await server.notification("fs/changed", timeout=15)
    assert changed["params"] == {"watchId": "head", "changedPaths": [real(tmp_path / "HEAD")]}

    # After fs/unwatch nothing more arrives for that watch; unknown ids are fine.
    assert await server.result("fs/unwatch", {"watchId": "dir"}) == {}
    assert await server.result("fs/unwatch", {"watchId": "never-watched"}) == {}
    server.drain_notifications()
    (watched / "later.txt").write_text("ignored")
    (tmp_path / "HEAD").write_text("ref: third\n")
    changed = await server.notification("fs/changed", timeout=15)
    assert changed["params"]["watchId"] == "head"
    late = [n for n in await server.notifications_within(0.5) if n["method"] == "fs/changed"]
    assert all(n["params"]["watchId"] == "head" for n in late)
    # The id is free again once unwatched.
    assert await server.result("fs/watch", {"watchId": "dir", "path": str(watched)}) == {"path": real(watched)}


@pytest.mark.compat("fuzzy:ranking")
@pytest.mark.compat("fs:watch-targets")
async def test_a_file_watch_survives_atomic_saves_and_a_missing_path_is_seen_appearing(
    server: ServerProcess, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{}")
    assert await server.result("fs/watch", {"watchId": "file", "path": str(settings)}) == {"path": real(settings)}
    for version in (1, 2):  # an editor's save: write a temporary file, rename it over the original
        temporary = tmp_path / f".settings.json.{version}"
        temporary.write_text(f'{{"v": {version}}}')
        os.replace(temporary, settings)
        changed = await server.notification("fs/changed", timeout=15)
        assert changed["params"] == {"watchId": "file", "changedPaths": [real(settings)]}

    # Not there yet: reported when a directory on the way to it appears.
    later = tmp_path / "later" / "notes.txt"
    await server.result("fs/watch", {"watchId": "later", "path": str(later)})
    (tmp_path / "unrelated").mkdir()
    later.parent.mkdir()
    changed = await server.notification("fs/changed", timeout=15)
    assert changed["params"] == {"watchId": "later", "changedPaths": [real(later.parent)]}


async def test_fuzzy_file_search(server: ServerProcess, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for relative in [
        "src/server/handler.py",
        "src/server/request_handler.py",
        "docs/handling.md",
        "build/handler.py",
        "node_modules/lib/handler.js",
        "debug.log",
    ]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("x")
    (root / ".gitignore").write_text("build/\nnode_modules/\n*.log\n")
    (root / ".git").mkdir()
    (root / ".git" / "handler").write_text("x")

    found = await server.result("fuzzyFileSearch", {"query": "handler", "roots": [str(root)]})
    files = found["files"]
    assert [f["path"] for f in files][:2] == ["src/server/handler.py", "src/server/request_handler.py"]
    assert not any(f["path"].startswith(("build", "node_modules", ".git")) for f in files)
    first = files[0]
    assert first["root"] == str(root) and first["file_name"] == "handler.py" and first["match_type"] == "file"
    assert "".join(first["path"][i] for i in first["indices"]) == "handler"
    assert [f["score"] for f in files] == sorted((f["score"] for f in files), reverse=True)
    directories = await server.result("fuzzyFileSearch", {"query": "srvr", "roots": [str(root)]})
    assert {"path": "src/server", "match_type": "directory"}.items() <= directories["files"][0].items()

    assert (await server.result("fuzzyFileSearch", {"query": "", "roots": [str(root)]}))["files"] == []
    assert (await server.result("fuzzyFileSearch", {"query": "x", "roots": []}))["files"] == []
    missing = await server.result("fuzzyFileSearch", {"query": "x", "roots": [str(tmp_path / "nope")]})
    assert missing["files"] == []
    # Relative roots are searched from the server's cwd (tests/regressions/test_relative_paths_resolved.py).

    # Typing on with one cancellation token: every search answers, the last one with results.
    answers = await asyncio.gather(
        *(
            server.result("fuzzyFileSearch", {"query": query, "roots": [str(root)], "cancellationToken": "t"})
            for query in ("h", "ha", "han", "hand")
        )
    )
    assert answers[-1]["files"] and answers[-1]["files"][0]["file_name"].startswith("hand")


async def test_fuzzy_search_sessions_answer_the_newest_query(spawn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    for name in ("src/main.py", "src/util.py", "README.md"):
        (project / name).write_text("x")
    server = await spawn()
    await server.initialize(experimental=True)
    assert await server.result("fuzzyFileSearch/sessionStart", {"sessionId": "s1", "roots": [str(project)]}) == {}
    assert await server.result("fuzzyFileSearch/sessionUpdate", {"sessionId": "s1", "query": "main"}) == {}
    updated = await server.notification("fuzzyFileSearch/sessionUpdated")
    assert updated["params"]["sessionId"] == "s1" and updated["params"]["query"] == "main"
    assert [match["path"] for match in updated["params"]["files"]] == ["src/main.py"]
    assert (await server.notification("fuzzyFileSearch/sessionCompleted"))["params"] == {"sessionId": "s1"}
    await server.result("fuzzyFileSearch/sessionUpdate", {"sessionId": "s1", "query": ""})
    assert (await server.notification("fuzzyFileSearch/sessionUpdated"))["params"]["files"] == []
    await server.notification("fuzzyFileSearch/sessionCompleted")
    assert await server.result("fuzzyFileSearch/sessionStop", {"sessionId": "s1"}) == {}
    assert await server.result("fuzzyFileSearch/sessionStop", {"sessionId": "s1"}) == {}
    stopped = await server.call("fuzzyFileSearch/sessionUpdate", {"sessionId": "s1", "query": "x"})
    assert stopped["error"]["code"] == -32602 and "session not found: s1" in stopped["error"]["message"]
    no_roots = await server.call("fuzzyFileSearch/sessionStart", {"sessionId": "s2", "roots": []})
    assert no_roots["error"]["code"] == -32602 and "roots" in no_roots["error"]["message"]
    server.assert_schema_clean()


# ---------------------------------------------------------------------- regressions (issue 18)


@pytest.mark.compat("fs:special-files")
async def test_read_file_of_dev_zero_answers_instead_of_hanging_and_growing_memory(server: ServerProcess) -> None:
    code, message = error_of(await server.call("fs/readFile", {"path": "/dev/zero"}))
    assert code == -32602
    assert message == "fs/readFile /dev/zero: is not a file (it is a character device); only regular files can be read"
    # The server is still whole: a normal request right after is answered.
    assert await server.result("thread/loaded/list", {}) == {"data": [], "nextCursor": None}


@pytest.mark.compat("fs:special-files")
async def test_read_file_of_a_fifo_answers_instead_of_hanging(server: ServerProcess, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    os.symlink(fifo, tmp_path / "fifo-link")
    for path in (fifo, tmp_path / "fifo-link"):
        code, message = error_of(await server.call("fs/readFile", {"path": str(path)}))
        assert code == -32602 and f"fs/readFile {path}: is not a file (it is a FIFO)" in message


@pytest.mark.compat("fs:special-files")
async def test_special_files_are_refused_by_every_fs_method_that_reads_or_writes_them(
    server: ServerProcess, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock"))
        cases = [
            ("fs/readFile", {"path": str(tmp_path / "sock")}, "it is a socket"),
            ("fs/readFile", {"path": "/dev/null"}, "it is a character device"),
            ("fs/writeFile", {"path": str(fifo), "dataBase64": b64(b"x")}, "it is a FIFO"),
            ("fs/writeFile", {"path": "/dev/null", "dataBase64": b64(b"x")}, "it is a character device"),
            (
                "fs/copy",
                {"sourcePath": str(fifo), "destinationPath": str(tmp_path / "copy")},
                "only regular files, directories and symlinks can be copied",
            ),
        ]
        for method, params, expected in cases:
            code, message = error_of(await server.call(method, params))
            assert code == -32602 and expected in message, (method, message)
    assert not (tmp_path / "copy").exists()
    # A /proc file says its size is 0; it is still read to its end.
    status = await server.result("fs/readFile", {"path": "/proc/self/status"})
    assert base64.b64decode(status["dataBase64"]).startswith(b"Name:")


@pytest.mark.compat("fs:read-size-limit")
async def test_read_file_of_a_huge_file_is_refused_naming_the_limit(server: ServerProcess, tmp_path: Path) -> None:
    huge = tmp_path / "huge.bin"
    with huge.open("wb") as handle:
        handle.truncate(512 * 1024 * 1024 + 1)  # sparse: no disk space used
    code, message = error_of(await server.call("fs/readFile", {"path": str(huge)}))
    assert code == -32602
    assert "536,870,913 bytes" in message and "536,870,912-byte (512 MiB) limit of fs/readFile" in message


@pytest.mark.compat("fs:nul-path")
async def test_nul_byte_in_an_fs_path_is_invalid_params_naming_the_field(server: ServerProcess, tmp_path: Path) -> None:
    bad = f"{tmp_path}/a\u0000b"
    for method, params, field in [
        ("fs/readFile", {"path": bad}, "path"),
        ("fs/writeFile", {"path": bad, "dataBase64": ""}, "path"),
        ("fs/getMetadata", {"path": bad}, "path"),
        ("fs/readDirectory", {"path": bad}, "path"),
        ("fs/createDirectory", {"path": bad}, "path"),
        ("fs/remove", {"path": bad}, "path"),
        ("fs/copy", {"sourcePath": bad, "destinationPath": str(tmp_path / "x")}, "sourcePath"),
        ("fs/copy", {"sourcePath": str(tmp_path), "destinationPath": bad, "recursive": True}, "destinationPath"),
        ("fs/watch", {"watchId": "w", "path": bad}, "path"),
        ("fuzzyFileSearch", {"query": "x", "roots": [bad]}, "roots"),
    ]:
        code, message = error_of(await server.call(method, params))
        assert code == -32602, (method, code, message)
        assert f"Invalid params for {method}: `{field}`" in message and "NUL byte" in message, message
    assert not (tmp_path / "a").exists() and not (tmp_path / "x").exists()
