"""Host filesystem operations behind the ``fs/*`` methods.

Owns: what each operation does on disk and how its failures read. Every function here blocks:
callers run them in a worker thread (``asyncio.to_thread``), never on the event loop. Paths are
absolute (the protocol layer refuses others). A failure caused by the path the client named
(missing, a directory where a file is expected, permission denied, …) is ``InvalidParams`` whose
message names the operation, the path and what is wrong.

Only regular files are read or written: a device, FIFO or socket is refused before any byte
moves (``/dev/zero`` never ends, a FIFO without a writer never answers), and a read stops at
``MAX_READ_BYTES`` whatever the file claims its size is. Layer: core.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Any

from ..rpc.errors import InvalidParams

#: The largest file ``fs/readFile`` returns (its base64 is a third larger again, in one message).
MAX_READ_BYTES = 512 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)

#: Hints appended to an OS error message, by errno and operation.
_HINTS: dict[tuple[str, int], str] = {
    ("fs/readFile", errno.EISDIR): "it is a directory; list it with fs/readDirectory",
    ("fs/writeFile", errno.EISDIR): "it is a directory",
    ("fs/writeFile", errno.ENOENT): "its parent directory does not exist; create it with fs/createDirectory",
    ("fs/readDirectory", errno.ENOTDIR): "it is not a directory",
    ("fs/remove", errno.ENOTEMPTY): "the directory is not empty; pass recursive: true to remove it with its contents",
    ("fs/remove", errno.ENOENT): "it does not exist (pass force: true to ignore missing paths)",
    ("fs/createDirectory", errno.EEXIST): "it already exists",
    ("fs/createDirectory", errno.ENOENT): "its parent directory does not exist; pass recursive: true to create it",
}


class FileOperationError(InvalidParams):
    """An OS error on a path the client named, worded for the client."""

    def __init__(self, operation: str, path: str, error: OSError) -> None:
        reason = _HINTS.get((operation, error.errno or 0)) or (error.strerror or str(error)).lower()
        super().__init__(f"{operation} {path}: {reason}")
        self.errno = error.errno


def _fail(operation: str, path: str, error: OSError) -> FileOperationError:
    return FileOperationError(operation, path, error)


class NotAFile(InvalidParams):
    """The path is a device, FIFO or socket where a regular file is needed."""

    def __init__(self, operation: str, path: str, mode: int, verb: str) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        super().__init__(f"{operation} {path}: is not a file (it is {kind}); only regular files can be {verb}")


class FileTooLarge(InvalidParams):
    def __init__(self, path: str, size: int | None) -> None:
        found = f"is {size:,} bytes" if size is not None else "grew while being read"
        super().__init__(
            f"fs/readFile {path}: the file {found}, over the {MAX_READ_BYTES:,}-byte "
            f"({MAX_READ_BYTES // 2**20} MiB) limit of fs/readFile; process it in place with command/exec instead"
        )


def _open_regular(operation: str, path: str, flags: int, verb: str) -> int:
    """An fd of the regular file at ``path``; anything else is refused before it is opened for
    real (the open is non-blocking, and what was opened is checked again, so a FIFO swapped in
    meanwhile cannot hang the caller). A directory is an ``IsADirectoryError``."""
    try:
        _require_regular(operation, path, os.stat(path).st_mode, verb)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    try:
        _require_regular(operation, path, os.fstat(fd).st_mode, verb)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _require_regular(operation: str, path: str, mode: int, verb: str) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        raise NotAFile(operation, path, mode, verb)


def read_file(path: str) -> bytes:
    """The whole regular file, at most ``MAX_READ_BYTES``."""
    try:
        fd = _open_regular("fs/readFile", path, os.O_RDONLY, "read")
        with open(fd, "rb", buffering=0) as handle:
            size = os.fstat(fd).st_size
            if size > MAX_READ_BYTES:
                raise FileTooLarge(path, size)
            # The announced size in one read (a byte more, to notice a file longer than stat
            # says: growing, or a /proc file that reports 0), then up to the limit until EOF.
            chunks: list[bytes] = []
            total = 0
            want = size + 1 if size else _READ_CHUNK
            while chunk := handle.read(want):
                total += len(chunk)
                if total > MAX_READ_BYTES:
                    raise FileTooLarge(path, None)
                chunks.append(chunk)
                want = _READ_CHUNK
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        raise _fail("fs/readFile", path, exc) from None


def write_file(path: str, data: bytes) -> None:
    try:
        fd = _open_regular("fs/writeFile", path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "written")
        with open(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise _fail("fs/writeFile", path, exc) from None


def create_directory(path: str, recursive: bool) -> None:
    try:
        if recursive:
            os.makedirs(path, exist_ok=True)
        else:
            os.mkdir(path)
    except OSError as exc:
        raise _fail("fs/createDirectory", path, exc) from None


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 0)


def get_metadata(path: str) -> dict[str, Any]:
    try:
        own = os.lstat(path)
    except OSError as exc:
        raise _fail("fs/getMetadata", path, exc) from None
    target = own
    if stat.S_ISLNK(own.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            target = own  # a dangling link: it is a symlink and nothing else
    birth = getattr(target, "st_birthtime", None)
    return {
        "isDirectory": stat.S_ISDIR(target.st_mode),
        "isFile": stat.S_ISREG(target.st_mode),
        "isSymlink": stat.S_ISLNK(own.st_mode),
        # Linux's stat() has no creation time; the reference reports 0 when unavailable too.
        "createdAtMs": _ms(birth) if birth is not None else 0,
        "modifiedAtMs": _ms(target.st_mtime),
    }


def read_directory(path: str) -> list[dict[str, Any]]:
    found: list[tuple[str, bool, bool]] = []
    try:
        with os.scandir(path) as listing:
            for entry in listing:
                try:
                    is_dir, is_file = entry.is_dir(), entry.is_file()
                except OSError:
                    is_dir = is_file = False
                found.append((entry.name, is_dir, is_file))
    except OSError as exc:
        raise _fail("fs/readDirectory", path, exc) from None
    found.sort()
    return [{"fileName": name, "isDirectory": is_dir, "isFile": is_file} for name, is_dir, is_file in found]


def remove(path: str, recursive: bool, force: bool) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError as exc:
        if force:
            return
        raise _fail("fs/remove", path, exc) from None
    except OSError as exc:
        raise _fail("fs/remove", path, exc) from None
    try:
        if stat.S_ISDIR(info.st_mode):
            if recursive:
                shutil.rmtree(path)
            else:
                os.rmdir(path)
        else:
            os.unlink(path)
    except OSError as exc:
        raise _fail("fs/remove", getattr(exc, "filename", None) or path, exc) from None


def copy(source: str, destination: str, recursive: bool) -> None:
    """Copy a file, a symlink (as a link) or, with ``recursive``, a directory tree (merged into an
    existing destination; FIFOs, sockets and devices inside it are skipped)."""
    try:
        info = os.lstat(source)
    except OSError as exc:
        raise _fail("fs/copy", source, exc) from None
    if stat.S_ISDIR(info.st_mode):
        if not recursive:
            raise InvalidParams(f"fs/copy {source}: it is a directory; pass recursive: true to copy it")
        real_source = os.path.realpath(source)
        real_destination = os.path.realpath(destination)
        if real_destination == real_source or real_destination.startswith(real_source.rstrip("/") + "/"):
            raise InvalidParams(
                f"fs/copy cannot copy directory {source} into itself or one of its descendants ({destination})"
            )
        try:
            _copy_tree(source, destination)
        except OSError as exc:
            raise _fail("fs/copy", getattr(exc, "filename", None) or destination, exc) from None
        return
    if stat.S_ISLNK(info.st_mode):
        try:
            os.symlink(os.readlink(source), destination)
        except OSError as exc:
            raise _fail("fs/copy", destination, exc) from None
        return
    if not stat.S_ISREG(info.st_mode):
        raise InvalidParams(f"fs/copy {source}: only regular files, directories and symlinks can be copied")
    try:
        shutil.copy(source, destination)
    except shutil.SameFileError:
        raise InvalidParams(f"fs/copy {source}: source and destination are the same file") from None
    except OSError as exc:
        raise _fail("fs/copy", getattr(exc, "filename", None) or destination, exc) from None


def _copy_tree(source: str, destination: str) -> None:
    os.makedirs(destination, exist_ok=True)
    with os.scandir(source) as listing:
        entries = list(listing)
    for entry in entries:
        target = os.path.join(destination, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir(follow_symlinks=False):
            _copy_tree(entry.path, target)
        elif entry.is_file(follow_symlinks=False):
            shutil.copy(entry.path, target)
