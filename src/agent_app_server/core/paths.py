"""Paths a client names in a request, resolved as the reference resolves them.

Owns: :func:`resolve_client_path`, the one rule for working directories and other directories a
client sends as plain strings (``cwd`` of ``thread/start``, ``turn/start``, ``config/read``,
``command/exec``; ``cwds`` of ``skills/list`` and ``hooks/list``): an empty string is the server's
working directory, ``~`` and ``~/…`` are under the user's home, a relative path is joined to the
server's working directory, and the result is normalized (``..`` folded, nothing resolved on
disk). Fields the reference types ``AbsolutePathBuf`` (``fs/*`` paths) stay absolute-only; they
are checked in the protocol layer. Layer: core (imports nothing from this project).
"""

from __future__ import annotations

import os


def resolve_client_path(value: str, base: str | None = None) -> str:
    """``value`` as an absolute, normalized path; relative ones are taken from ``base``
    (default: the server's working directory)."""
    root = base if base is not None else os.getcwd()
    if not value:
        return os.path.normpath(root)
    if value == "~" or value.startswith("~/"):
        value = os.path.expanduser(value)
    return os.path.normpath(os.path.join(root, value))
