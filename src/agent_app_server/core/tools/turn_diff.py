"""The cumulative diff of one turn (``turn/diff/updated``), in git's format, with or without a git
repository.

Owns: remembering what each file looked like before the turn first touched it (and where moves
took it), and rendering baseline → current disk state as ``diff --git`` blocks: paths relative to
the repository root (or the cwd outside a repository), sorted, with git blob hashes on the
``index`` lines. Reading the disk is blocking: call :meth:`TurnDiff.render` from a worker thread.
Layer: core (stdlib only).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from dataclasses import dataclass

from .patch import PatchPlan

_NULL_HASH = "0" * 40


@dataclass(slots=True)
class _Baseline:
    content: bytes | None
    mode: str


def _blob_hash(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _mode(path: str) -> str:
    try:
        return "100755" if os.stat(path).st_mode & stat.S_IXUSR else "100644"
    except OSError:
        return "100644"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def repo_root(cwd: str) -> str:
    """The nearest ancestor of ``cwd`` holding ``.git``, else ``cwd`` itself."""
    folder = os.path.abspath(cwd)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.path.abspath(cwd)
        folder = parent


class TurnDiff:
    """Baselines of the files a turn's patches touched; renders the cumulative diff."""

    def __init__(self, cwd: str) -> None:
        self.root = repo_root(cwd)
        self._baselines: dict[str, _Baseline] = {}
        #: original path → where it lives now (moves).
        self._current: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self._baselines)

    def record(self, plan: PatchPlan) -> None:
        """Call before ``plan`` is written: keep the first-seen state of every file it touches."""
        for change in plan.changes:
            origin = self._origin_of(change.path)
            if origin not in self._baselines:
                old = change.old.encode("utf-8") if change.old is not None else None
                self._baselines[origin] = _Baseline(old, _mode(change.path))
                self._current[origin] = change.path
            if change.move_path:
                self._current[origin] = change.move_path
                target_origin = self._origin_of(change.move_path)
                if target_origin != origin and target_origin not in self._baselines:
                    # The destination existed before the move: its old content is replaced.
                    existing = _read(change.move_path)
                    if existing is not None:
                        self._baselines[target_origin] = _Baseline(existing, _mode(change.move_path))
                        self._current[target_origin] = "\0gone"

    def _origin_of(self, path: str) -> str:
        for origin, current in self._current.items():
            if current == path:
                return origin
        return path

    def render(self) -> str:
        """The whole turn's diff against the files as they are on disk now."""
        blocks = []
        for origin in sorted(self._baselines, key=self._relative):
            baseline = self._baselines[origin]
            current_path = self._current.get(origin, origin)
            current = None if current_path == "\0gone" else _read(current_path)
            moved = current_path not in (origin, "\0gone")
            if current == baseline.content and not moved:
                continue
            blocks.append(self._block(origin, current_path if moved else origin, baseline, current))
        return "".join(blocks)

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def _block(self, old_path: str, new_path: str, baseline: _Baseline, current: bytes | None) -> str:
        a = self._relative(old_path)
        b = self._relative(new_path)
        lines = [f"diff --git a/{a} b/{b}\n"]
        old_hash = _blob_hash(baseline.content) if baseline.content is not None else _NULL_HASH
        new_hash = _blob_hash(current) if current is not None else _NULL_HASH
        if baseline.content is None:
            lines.append(f"new file mode {_mode(new_path)}\n")
        elif current is None:
            lines.append(f"deleted file mode {baseline.mode}\n")
        lines.append(f"index {old_hash}..{new_hash}\n")
        old_text = (baseline.content or b"").decode("utf-8", "replace")
        new_text = (current or b"").decode("utf-8", "replace")
        lines.append(f"--- a/{a}\n" if baseline.content is not None else "--- /dev/null\n")
        lines.append(f"+++ b/{b}\n" if current is not None else "+++ /dev/null\n")
        hunks = difflib.unified_diff(
            old_text.splitlines(keepends=True), new_text.splitlines(keepends=True), n=3, lineterm="\n"
        )
        for index, line in enumerate(hunks):
            if index < 2:
                continue
            lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(lines)
