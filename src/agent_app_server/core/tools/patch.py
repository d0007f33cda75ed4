"""The ``apply_patch`` format: our own parser, the in-memory application, and the diffs shown to
clients.

Owns: parsing a patch (``*** Begin Patch`` … ``*** End Patch`` with Add / Delete / Update hunks,
``*** Move to:``, ``@@`` context chunks and ``*** End of File``), resolving it against the files
on disk **entirely in memory** (every hunk is checked before anything is written), writing the
result with a rollback if the disk refuses part of it, and the per-file diffs of a
``fileChange`` item. Error messages are written for the model: they say which line or file is
wrong and what was expected, so it can fix the patch and try again.

Blocking file I/O: callers run :func:`plan_patch` and :func:`write_plan` in a worker thread.
Layer: core (stdlib only).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARKER = "*** End of File"


class PatchError(Exception):
    """The patch cannot be applied; the message is meant for the model."""


# ---------------------------------------------------------------------- parsed form


@dataclass(slots=True)
class Chunk:
    """One ``@@`` section of an update: the lines it replaces and what replaces them."""

    context: str | None
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)
    is_eof: bool = False


@dataclass(slots=True)
class AddFile:
    path: str
    contents: str


@dataclass(slots=True)
class DeleteFile:
    path: str


@dataclass(slots=True)
class UpdateFile:
    path: str
    move_to: str | None
    chunks: list[Chunk]


Hunk = AddFile | DeleteFile | UpdateFile


def parse_patch(text: str) -> list[Hunk]:
    """The hunks of a patch; raises :class:`PatchError` saying what is malformed and where."""
    lines = _unwrap(text.strip()).split("\n")
    if not lines or lines[0].strip() != BEGIN:
        raise PatchError(f"invalid patch: The first line of the patch must be '{BEGIN}'")
    if lines[-1].strip() != END:
        raise PatchError(f"invalid patch: The last line of the patch must be '{END}'")
    body = lines[1:-1]
    hunks: list[Hunk] = []
    index = 0
    while index < len(body):
        line = body[index]
        number = index + 2  # 1-based, counting the Begin line
        stripped = line.strip()
        if line.lstrip().startswith(ADD):
            path = _path(line.lstrip()[len(ADD) :], number)
            index += 1
            content: list[str] = []
            while index < len(body) and body[index].startswith("+"):
                content.append(body[index][1:])
                index += 1
            hunks.append(AddFile(path, "".join(part + "\n" for part in content)))
        elif line.lstrip().startswith(DELETE):
            hunks.append(DeleteFile(_path(line.lstrip()[len(DELETE) :], number)))
            index += 1
        elif line.lstrip().startswith(UPDATE):
            path = _path(line.lstrip()[len(UPDATE) :], number)
            index += 1
            move_to = None
            if index < len(body) and body[index].lstrip().startswith(MOVE):
                move_to = _path(body[index].lstrip()[len(MOVE) :], index + 2)
                index += 1
            chunks, index = _parse_chunks(body, index, path)
            if not chunks:
                raise PatchError(
                    f"invalid hunk at line {number}, Update file hunk for path '{path}' is empty: "
                    "add at least one '@@' section with the lines to change"
                )
            hunks.append(UpdateFile(path, move_to, chunks))
        elif not stripped:
            index += 1
        else:
            raise PatchError(
                f"invalid hunk at line {number}, '{line}' is not a valid hunk header. Valid hunk headers: "
                f"'{ADD}{{path}}', '{DELETE}{{path}}', '{UPDATE}{{path}}'"
            )
    if not hunks:
        raise PatchError("invalid patch: it contains no file operations (no Add, Delete or Update File hunk)")
    return hunks


def _unwrap(text: str) -> str:
    """Accept a patch wrapped in a shell heredoc (``<<'EOF'`` … ``EOF``), as models often send."""
    lines = text.split("\n")
    if len(lines) >= 4 and re.match(r"^(apply_patch\s+)?<<\s*['\"]?(\w+)['\"]?\s*$", lines[0].strip()):
        marker = re.sub(r"^(apply_patch\s+)?<<\s*['\"]?|['\"]?\s*$", "", lines[0].strip())
        if lines[-1].strip() == marker:
            return "\n".join(lines[1:-1]).strip()
    return text


def _path(raw: str, number: int) -> str:
    path = raw.strip()
    if not path:
        raise PatchError(f"invalid hunk at line {number}, the file path is missing")
    return path


def _is_header(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith(("*** Add File:", "*** Delete File:", "*** Update File:")) or stripped == END


def _parse_chunks(body: list[str], index: int, path: str) -> tuple[list[Chunk], int]:
    chunks: list[Chunk] = []
    current: Chunk | None = None
    while index < len(body):
        line = body[index]
        number = index + 2
        if _is_header(line):
            break
        if line.startswith("@@"):
            context = line[2:].strip() or None
            current = Chunk(context)
            chunks.append(current)
            index += 1
            continue
        if line.strip() == EOF_MARKER:
            if current is None:
                raise PatchError(f"invalid hunk at line {number}, '{EOF_MARKER}' before any change in '{path}'")
            current.is_eof = True
            index += 1
            continue
        if current is None:
            # The first chunk of an update may omit its "@@" line.
            current = Chunk(None)
            chunks.append(current)
        elif current.is_eof:
            raise PatchError(f"invalid hunk at line {number}, lines after '{EOF_MARKER}' in '{path}'")
        if line == "":
            current.old_lines.append("")
            current.new_lines.append("")
        elif line[0] == " ":
            current.old_lines.append(line[1:])
            current.new_lines.append(line[1:])
        elif line[0] == "+":
            current.new_lines.append(line[1:])
        elif line[0] == "-":
            current.old_lines.append(line[1:])
        else:
            raise PatchError(
                f"invalid hunk at line {number}, Unexpected line found in update hunk: '{line}'. Every line should "
                "start with ' ' (context line), '+' (added line), or '-' (removed line)"
            )
        index += 1
    for chunk in chunks:
        if not chunk.old_lines and not chunk.new_lines:
            raise PatchError(f"invalid hunk: an '@@' section of '{path}' has no lines")
    return chunks, index


# ---------------------------------------------------------------------- planning


@dataclass(slots=True)
class FileChange:
    """What one patch does to one file, resolved against the disk."""

    #: Absolute path the change starts from (the source of a move).
    path: str
    kind: str  # "add" | "delete" | "update"
    old: str | None
    new: str | None
    move_path: str | None = None
    #: The path as the patch wrote it (for the summary the model sees).
    display: str = ""


@dataclass(slots=True)
class PatchPlan:
    """Everything a patch will write, computed before anything is written."""

    changes: list[FileChange]
    #: The summary lines ("A path", "M path", "D path") in the reference's order.
    summary: list[str]

    def paths(self) -> list[str]:
        """Every absolute path written or removed."""
        out: list[str] = []
        for change in self.changes:
            out.append(change.path)
            if change.move_path:
                out.append(change.move_path)
        return out


def resolve(path: str, cwd: str) -> str:
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(cwd, path))


def plan_patch(hunks: list[Hunk], cwd: str) -> PatchPlan:
    """Apply ``hunks`` in memory against the files under ``cwd``; raise :class:`PatchError` if any
    hunk does not fit. Later hunks see the result of earlier ones (a patch may touch a file
    twice)."""
    overlay: dict[str, str | None] = {}
    originals: dict[str, str | None] = {}

    def read(path: str) -> str | None:
        if path in overlay:
            return overlay[path]
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except FileNotFoundError:
            text = None
        except IsADirectoryError:
            raise PatchError(f"{path} is a directory, not a file") from None
        except UnicodeDecodeError:
            raise PatchError(f"{path} is not UTF-8 text; apply_patch only edits text files") from None
        except OSError as exc:
            raise PatchError(f"Failed to read {path}: {exc.strerror}") from None
        originals.setdefault(path, text)
        return text

    changes: list[FileChange] = []
    added: list[str] = []
    modified: list[str] = []
    deleted: list[str] = []
    for hunk in hunks:
        path = resolve(hunk.path, cwd)
        if isinstance(hunk, AddFile):
            old = read(path)
            overlay[path] = hunk.contents
            changes.append(FileChange(path, "add", old, hunk.contents, display=hunk.path))
            added.append(hunk.path)
        elif isinstance(hunk, DeleteFile):
            old = read(path)
            if old is None:
                raise PatchError(f"Failed to delete file {path}: it does not exist")
            overlay[path] = None
            changes.append(FileChange(path, "delete", old, None, display=hunk.path))
            deleted.append(hunk.path)
        else:
            old = read(path)
            if old is None:
                raise PatchError(
                    f"Failed to read file to update {path}: No such file or directory; use '{ADD}{hunk.path}' "
                    "to create it"
                )
            new = apply_chunks(old, hunk.chunks, path)
            target = resolve(hunk.move_to, cwd) if hunk.move_to else None
            if target is not None and target != path:
                read(target)
                overlay[path] = None
                overlay[target] = new
                changes.append(FileChange(path, "update", old, new, move_path=target, display=hunk.move_to or ""))
                modified.append(hunk.move_to or hunk.path)
            else:
                overlay[path] = new
                changes.append(FileChange(path, "update", old, new, display=hunk.path))
                modified.append(hunk.path)
    summary = [f"A {p}" for p in added] + [f"M {p}" for p in modified] + [f"D {p}" for p in deleted]
    return PatchPlan(changes, summary)


def apply_chunks(text: str, chunks: list[Chunk], path: str) -> str:
    """``text`` with every chunk applied; the result always ends with a newline."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    replacements: list[tuple[int, int, list[str]]] = []
    cursor = 0
    for chunk in chunks:
        if chunk.context is not None:
            found = seek(lines, [chunk.context], cursor, eof=False)
            if found is None:
                raise PatchError(f"Failed to find context '{chunk.context}' in {path}")
            cursor = found + 1
        if not chunk.old_lines:
            replacements.append((len(lines), 0, list(chunk.new_lines)))
            continue
        old, new = chunk.old_lines, chunk.new_lines
        found = seek(lines, old, cursor, eof=chunk.is_eof)
        if found is None and old and old[-1] == "":
            # A trailing blank line in the patch often stands for the file's final newline.
            old = old[:-1]
            new = new[:-1] if new and new[-1] == "" else new
            found = seek(lines, old, cursor, eof=chunk.is_eof) if old else None
        if found is None:
            raise PatchError(f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old_lines))
        replacements.append((found, len(old), list(new)))
        cursor = found + len(old)
    replacements.sort(key=lambda item: item[0])
    for start, length, new in reversed(replacements):
        lines[start : start + length] = new
    return "\n".join(lines) + "\n" if lines else ""


_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)


def seek(lines: list[str], pattern: list[str], start: int, *, eof: bool) -> int | None:
    """Where ``pattern`` occurs in ``lines`` at or after ``start``: exactly first, then ignoring
    trailing whitespace, then surrounding whitespace, then typographic punctuation. With ``eof``
    the end of the file is tried first."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    last = len(lines) - len(pattern)
    starts = range(start, last + 1)
    if eof and last >= start:
        starts = range(last, last + 1)
    for normalize in (_same, str.rstrip, str.strip, _loose):
        wanted = [normalize(line) for line in pattern]
        for index in starts:
            if all(normalize(lines[index + offset]) == wanted[offset] for offset in range(len(pattern))):
                return index
    if eof:
        return seek(lines, pattern, start, eof=False)
    return None


def _same(line: str) -> str:
    return line


def _loose(line: str) -> str:
    return line.strip().translate(_PUNCTUATION)


# ---------------------------------------------------------------------- writing


def write_plan(plan: PatchPlan) -> None:
    """Write every change; if the disk refuses one, put back what was already written."""
    done: list[tuple[str, str | None]] = []
    try:
        for change in plan.changes:
            if change.kind == "delete":
                _remove(change.path, done)
            elif change.kind == "add":
                _write(change.path, change.new or "", done)
            elif change.move_path:
                _write(change.move_path, change.new or "", done)
                _remove(change.path, done)
            else:
                _write(change.path, change.new or "", done)
    except OSError as exc:
        for path, previous in reversed(done):
            try:
                if previous is None:
                    os.remove(path)
                else:
                    with open(path, "w", encoding="utf-8", newline="") as handle:
                        handle.write(previous)
            except OSError:
                pass
        target = exc.filename or "a file"
        raise PatchError(f"Failed to write {target}: {exc.strerror or exc}; no file was changed") from None


def _current(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: str, text: str, done: list[tuple[str, str | None]]) -> None:
    previous = _current(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    done.append((path, previous))


def _remove(path: str, done: list[tuple[str, str | None]]) -> None:
    previous = _current(path)
    os.remove(path)
    if previous is not None:
        done.append((path, previous))


# ---------------------------------------------------------------------- diffs


def unified_hunks(old: str, new: str, context: int = 1) -> str:
    """The ``@@`` hunks between two texts, without file headers."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), n=context, lineterm="\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        if index < 2:  # the ---/+++ headers
            continue
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def change_wire(change: FileChange) -> dict[str, object]:
    """One ``FileUpdateChange`` of a ``fileChange`` item, as the reference shapes it."""
    if change.kind == "add":
        return {"path": change.path, "kind": {"type": "add"}, "diff": change.new or ""}
    if change.kind == "delete":
        return {"path": change.path, "kind": {"type": "delete"}, "diff": change.old or ""}
    diff = unified_hunks(change.old or "", change.new or "")
    if change.move_path:
        diff += f"\n\nMoved to: {change.move_path}"
    return {"path": change.path, "kind": {"type": "update", "move_path": change.move_path}, "diff": diff}


def changes_wire(plan: PatchPlan) -> list[dict[str, object]]:
    return sorted((change_wire(change) for change in plan.changes), key=lambda item: str(item["path"]))
