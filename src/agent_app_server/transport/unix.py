"""``--listen unix://[PATH]``: the WebSocket protocol over a unix domain socket, as the reference.

The reference speaks WebSocket (not JSONL) on its unix socket: an upgrade request on it gets
``101 Switching Protocols`` and a bare JSONL line gets the connection closed. Its clients
(``codex --remote unix://…``) and ``codex app-server proxy`` expect exactly that, so we do the same,
with the same health routes and checks as the TCP listener.

Owns: where the socket lives (``unix://`` alone means the reference's default,
``$CODEX_HOME/app-server-control/app-server-control.sock``), replacing a stale socket file but never
a live one, paths longer than ``sun_path`` allows (bound in a private directory and linked, like the
reference does), and removing what we created at exit.
Layer: transport.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: The reference's default control socket, relative to CODEX_HOME.
DEFAULT_SOCKET = Path("app-server-control") / "app-server-control.sock"
#: ``sun_path`` is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


class UnixSocketError(Exception):
    """The socket path cannot be used; the message says why and what to do."""


@dataclass
class UnixSocketPath:
    """Where clients connect (``path``) and where the socket is actually bound (``bind_path``)."""

    path: Path
    bind_path: Path
    _created: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        """Remove the socket (and link) this process created; leave anything else alone."""
        for created in reversed(self._created):
            with contextlib.suppress(OSError):
                created.unlink()
        self._created.clear()


def default_socket_path(codex_home: Path) -> Path:
    return codex_home / DEFAULT_SOCKET


def prepare_socket_path(path: Path) -> UnixSocketPath:
    """Make ``path`` ready to bind: its directory exists (0700 when we create it), a stale socket
    file is removed, a live one is an error. Long paths get a private bind path and a symlink."""
    path = path if path.is_absolute() else Path.cwd() / path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _remove_if_stale(path)
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH_BYTES:
        return UnixSocketPath(path, path, [path])
    private = Path(tempfile.gettempdir()) / f"agent-app-server-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    info = private.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise UnixSocketError(
            f"{private} must be a directory owned by you with mode 0700 to hold the socket for the long path "
            f"{path}; remove it or choose a shorter socket path"
        )
    bind_path = private / (hashlib.sha256(os.fsencode(path)).hexdigest()[:32] + ".sock")
    _remove_if_stale(bind_path)
    return UnixSocketPath(path, bind_path, [bind_path, path])


def link_if_needed(prepared: UnixSocketPath) -> None:
    """After binding: point ``path`` at the private socket when they differ."""
    if prepared.path != prepared.bind_path:
        prepared.path.symlink_to(prepared.bind_path)


def _remove_if_stale(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        target = path.resolve()
        if target.exists() and _is_live(target):
            raise UnixSocketError(f"another server is already listening on {path} (-> {target}); stop it first")
        path.unlink()
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise UnixSocketError(f"{path} exists and is not a socket; remove it or choose another --listen unix:// path")
    if _is_live(path):
        raise UnixSocketError(f"another server is already listening on {path}; stop it first")
    path.unlink()


def _is_live(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(os.fsencode(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
