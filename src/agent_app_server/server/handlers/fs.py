"""Files and search methods: fs/readFile, fs/writeFile, fs/createDirectory, fs/getMetadata,
fs/readDirectory, fs/remove, fs/copy, fs/watch, fs/unwatch (with ``fs/changed``), fuzzyFileSearch.

Owns: running the file operations of ``core.files`` in worker threads (never on the event loop),
the connection-scoped watches, and the process's fuzzy searcher. Layer: server.

A watch is one ``watchfiles`` notifier (the Rust ``notify`` crate) on a thread of its own, armed
before the ``fs/watch`` reply so that no change after the reply is missed; as the reference, it
watches non-recursively, groups a burst of changes for up to 200 ms into one ``fs/changed``, and
sends nothing for a watch after its ``fs/unwatch`` reply. A watch ends with its connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...core import files
from ...core.fuzzy import FuzzySearcher
from ...protocol import (
    FsCopyParams,
    FsCopyResponse,
    FsCreateDirectoryParams,
    FsCreateDirectoryResponse,
    FsGetMetadataParams,
    FsGetMetadataResponse,
    FsReadDirectoryParams,
    FsReadDirectoryResponse,
    FsReadFileParams,
    FsReadFileResponse,
    FsRemoveParams,
    FsRemoveResponse,
    FsUnwatchParams,
    FsUnwatchResponse,
    FsWatchParams,
    FsWatchResponse,
    FsWriteFileParams,
    FsWriteFileResponse,
    FuzzyFileSearchParams,
    FuzzyFileSearchResponse,
)
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler

log = logging.getLogger(__name__)

#: As the reference: one fs/changed per burst, at most this long after its first change.
DEBOUNCE_MS = 200
#: A burst ends after this long without a further change.
STEP_MS = 50
#: How often an idle watch thread checks that its connection is still there.
LIVENESS_MS = 1000


# ---------------------------------------------------------------------- read and write


def _read_base64(path: str) -> str:
    return base64.b64encode(files.read_file(path)).decode("ascii")


@handler("fs/readFile")
async def fs_read_file(conn: Connection, params: FsReadFileParams) -> FsReadFileResponse:
    return FsReadFileResponse(data_base64=await asyncio.to_thread(_read_base64, params.path))


def _write_base64(path: str, data_base64: str) -> None:
    try:
        data = base64.b64decode(data_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParams(f"Invalid params for fs/writeFile: `dataBase64` is not valid base64 ({exc})") from None
    files.write_file(path, data)


@handler("fs/writeFile")
async def fs_write_file(conn: Connection, params: FsWriteFileParams) -> FsWriteFileResponse:
    await asyncio.to_thread(_write_base64, params.path, params.data_base64)
    return FsWriteFileResponse()


@handler("fs/createDirectory")
async def fs_create_directory(conn: Connection, params: FsCreateDirectoryParams) -> FsCreateDirectoryResponse:
    recursive = True if params.recursive is None else params.recursive
    await asyncio.to_thread(files.create_directory, params.path, recursive)
    return FsCreateDirectoryResponse()


@handler("fs/getMetadata")
async def fs_get_metadata(conn: Connection, params: FsGetMetadataParams) -> FsGetMetadataResponse:
    return FsGetMetadataResponse.model_validate(await asyncio.to_thread(files.get_metadata, params.path))


@handler("fs/readDirectory")
async def fs_read_directory(conn: Connection, params: FsReadDirectoryParams) -> FsReadDirectoryResponse:
    entries = await asyncio.to_thread(files.read_directory, params.path)
    return FsReadDirectoryResponse.model_validate({"entries": entries})


@handler("fs/remove")
async def fs_remove(conn: Connection, params: FsRemoveParams) -> FsRemoveResponse:
    recursive = True if params.recursive is None else params.recursive
    force = True if params.force is None else params.force
    await asyncio.to_thread(files.remove, params.path, recursive, force)
    return FsRemoveResponse()


@handler("fs/copy")
async def fs_copy(conn: Connection, params: FsCopyParams) -> FsCopyResponse:
    await asyncio.to_thread(files.copy, params.source_path, params.destination_path, params.recursive)
    return FsCopyResponse()


# ---------------------------------------------------------------------- watches


@dataclass
class _Watch:
    connection: Connection
    watch_id: str
    stop: threading.Event = field(default_factory=threading.Event)


#: Live watches by (connection id, watchId).
_WATCHES: dict[tuple[int, str], _Watch] = {}


def _watch_target(path: str) -> tuple[str, str, Callable[[str], bool]]:
    """(canonical path, what to hand the notifier, which reported paths concern the watch)."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        return real, real, lambda changed: True
    if os.path.exists(real):
        # A file is watched through its directory: editors replace files by renaming a new
        # one over them, which ends a watch held on the old inode.
        return real, os.path.dirname(real), lambda changed: changed == real
    # Not there yet: watch the nearest existing ancestor for the path (or a directory on the
    # way to it) appearing.
    ancestor = os.path.dirname(real)
    while not os.path.isdir(ancestor) and ancestor != os.path.dirname(ancestor):
        ancestor = os.path.dirname(ancestor)
    return real, ancestor, lambda changed: changed == real or real.startswith(changed.rstrip("/") + "/")


def _arm(path: str) -> tuple[str, Any, Callable[[str], bool]]:
    from watchfiles._rust_notify import RustNotify  # heavy: only when a client watches

    real, target, concerns = _watch_target(path)
    try:
        notifier = RustNotify([target], False, False, 300, False, True)
    except OSError as exc:
        raise files.FileOperationError("fs/watch", path, exc) from None
    return real, notifier, concerns


def _run_watch(watch: _Watch, notifier: Any, concerns: Callable[[str], bool], loop: asyncio.AbstractEventLoop) -> None:
    """The watch's own thread: wait for changes, hand each burst to the event loop."""
    key = (watch.connection.id, watch.watch_id)
    try:
        while not watch.stop.is_set():
            result = notifier.watch(DEBOUNCE_MS, STEP_MS, LIVENESS_MS, watch.stop)
            if result == "stop":
                break
            if isinstance(result, set):
                changed = sorted({path for _, path in result if concerns(path)})
                if changed:
                    loop.call_soon_threadsafe(_deliver, watch, changed)
            # Also on "timeout": a watch whose connection went away ends here.
            if watch.connection.id not in watch.connection.app.connections:
                loop.call_soon_threadsafe(_forget, key, watch)
                break
    except Exception:
        log.exception("fs/watch %s stopped", watch.watch_id)
    finally:
        notifier.close()


def _deliver(watch: _Watch, changed: list[str]) -> None:
    # On the event loop: a watch removed by fs/unwatch (or replaced) sends nothing more.
    if _WATCHES.get((watch.connection.id, watch.watch_id)) is watch:
        watch.connection.notify("fs/changed", {"watchId": watch.watch_id, "changedPaths": changed})


def _forget(key: tuple[int, str], watch: _Watch) -> None:
    if _WATCHES.get(key) is watch:
        del _WATCHES[key]


@handler("fs/watch")
async def fs_watch(conn: Connection, params: FsWatchParams) -> FsWatchResponse:
    key = (conn.id, params.watch_id)
    if key in _WATCHES:
        raise InvalidParams(f"watchId already exists: {params.watch_id}; fs/unwatch it first or choose another")
    watch = _Watch(conn, params.watch_id)
    # Claimed before arming, so that a concurrent fs/watch with the same id is refused too.
    _WATCHES[key] = watch
    try:
        real, notifier, concerns = await asyncio.to_thread(_arm, params.path)
    except BaseException:
        _forget(key, watch)
        raise
    thread = threading.Thread(
        target=_run_watch,
        args=(watch, notifier, concerns, asyncio.get_running_loop()),
        name=f"fs-watch-{conn.id}-{params.watch_id}",
        daemon=True,
    )
    thread.start()
    return FsWatchResponse(path=real)


@handler("fs/unwatch")
async def fs_unwatch(conn: Connection, params: FsUnwatchParams) -> FsUnwatchResponse:
    # As the reference: unwatching an unknown id is not an error.
    watch = _WATCHES.pop((conn.id, params.watch_id), None)
    if watch is not None:
        watch.stop.set()
    return FsUnwatchResponse()


# ---------------------------------------------------------------------- fuzzy file search

_searcher: FuzzySearcher | None = None


@handler("fuzzyFileSearch")
async def fuzzy_file_search(conn: Connection, params: FuzzyFileSearchParams) -> FuzzyFileSearchResponse:
    global _searcher
    if any("\0" in root for root in params.roots):
        raise InvalidParams("Invalid params for fuzzyFileSearch: `roots` must not contain a NUL byte (\\u0000)")
    # As the reference, a relative root is searched from the server's working directory (and
    # reported as given).
    if _searcher is None:
        _searcher = FuzzySearcher()
    matches = await _searcher.search(params.query, params.roots, params.cancellation_token)
    return FuzzyFileSearchResponse.model_validate(
        {
            "files": [
                {
                    "root": match.root,
                    "path": match.path,
                    "match_type": "directory" if match.is_dir else "file",
                    "file_name": match.file_name,
                    "score": match.score,
                    "indices": match.indices,
                }
                for match in matches
            ]
        }
    )
