"""The apply_patch format: parsing, in-memory application, diffs, and all-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.core.tools.patch import (
    AddFile,
    DeleteFile,
    PatchError,
    UpdateFile,
    apply_chunks,
    changes_wire,
    parse_patch,
    plan_patch,
    unified_hunks,
    write_plan,
)
from agent_app_server.core.tools.turn_diff import TurnDiff


def test_parses_every_hunk_kind() -> None:
    hunks = parse_patch(
        "*** Begin Patch\n"
        "*** Add File: a.txt\n+one\n+two\n"
        "*** Delete File: b.txt\n"
        "*** Update File: c.txt\n*** Move to: d/c.txt\n@@ def f():\n-    return 1\n+    return 2\n"
        "*** End Patch\n"
    )
    assert hunks[0] == AddFile("a.txt", "one\ntwo\n")
    assert hunks[1] == DeleteFile("b.txt")
    assert isinstance(hunks[2], UpdateFile) and hunks[2].move_to == "d/c.txt"
    chunk = hunks[2].chunks[0]
    assert chunk.context == "def f():" and chunk.old_lines == ["    return 1"] and chunk.new_lines == ["    return 2"]


def test_accepts_a_heredoc_wrapper_and_a_first_chunk_without_header() -> None:
    hunks = parse_patch("<<'EOF'\n*** Begin Patch\n*** Update File: x\n-a\n+b\n*** End Patch\nEOF")
    assert isinstance(hunks[0], UpdateFile) and hunks[0].chunks[0].old_lines == ["a"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("nothing", "The first line of the patch must be '*** Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a\n+x", "The last line of the patch must be '*** End Patch'"),
        ("*** Begin Patch\n*** End Patch", "contains no file operations"),
        ("*** Begin Patch\n*** Update File: a\n*** End Patch", "Update file hunk for path 'a' is empty"),
        ("*** Begin Patch\n*** Update File: a\n@@\n?x\n*** End Patch", "invalid hunk at line 4, Unexpected line"),
        ("*** Begin Patch\nhello\n*** End Patch", "invalid hunk at line 2, 'hello' is not a valid hunk header"),
        ("*** Begin Patch\n*** Add File: \n*** End Patch", "the file path is missing"),
    ],
)
def test_malformed_patches_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(PatchError, match=None) as caught:
        parse_patch(text)
    assert fragment in str(caught.value)


def test_update_uses_context_lines_and_tolerates_whitespace_and_punctuation() -> None:
    text = "a\nb\nc\nb\nd\n"
    chunks = parse_patch("*** Begin Patch\n*** Update File: f\n@@ c\n-b\n+B\n*** End Patch")[0].chunks  # type: ignore[union-attr]
    assert apply_chunks(text, chunks, "f") == "a\nb\nc\nB\nd\n"
    loose = parse_patch('*** Begin Patch\n*** Update File: f\n@@\n-x = "a" - b   \n+x = 1\n*** End Patch')[0]
    assert apply_chunks("x = \u201ca\u201d \u2013 b\n", loose.chunks, "f") == "x = 1\n"  # type: ignore[union-attr]


def test_end_of_file_anchors_at_the_end() -> None:
    chunks = parse_patch("*** Begin Patch\n*** Update File: f\n@@\n-x\n+y\n*** End of File\n*** End Patch")[0].chunks  # type: ignore[union-attr]
    assert apply_chunks("x\nmid\nx\n", chunks, "f") == "x\nmid\ny\n"


def test_pure_addition_appends() -> None:
    chunks = parse_patch("*** Begin Patch\n*** Update File: f\n@@\n+tail\n*** End Patch")[0].chunks  # type: ignore[union-attr]
    assert apply_chunks("head\n", chunks, "f") == "head\ntail\n"


def test_missing_lines_name_the_file() -> None:
    chunks = parse_patch("*** Begin Patch\n*** Update File: f\n@@\n-gone\n+x\n*** End Patch")[0].chunks  # type: ignore[union-attr]
    with pytest.raises(PatchError, match="Failed to find expected lines in /p/f:\ngone"):
        apply_chunks("here\n", chunks, "/p/f")


@pytest.mark.compat("tools:patch-in-process")
def test_plan_then_write_all_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("keep\n")
    (tmp_path / "edit.txt").write_text("old\n")
    good = parse_patch(
        "*** Begin Patch\n*** Update File: edit.txt\n-old\n+new\n*** Add File: n/new.txt\n+n\n*** End Patch"
    )
    plan = plan_patch(good, str(tmp_path))
    assert plan.summary == ["A n/new.txt", "M edit.txt"]
    assert [change["path"] for change in changes_wire(plan)] == sorted(
        [str(tmp_path / "edit.txt"), str(tmp_path / "n/new.txt")]
    )
    write_plan(plan)
    assert (tmp_path / "edit.txt").read_text() == "new\n" and (tmp_path / "n/new.txt").read_text() == "n\n"

    bad = parse_patch(
        "*** Begin Patch\n*** Delete File: keep.txt\n*** Update File: edit.txt\n-absent\n+x\n*** End Patch"
    )
    with pytest.raises(PatchError):
        plan_patch(bad, str(tmp_path))
    assert (tmp_path / "keep.txt").exists()


def test_a_refused_write_rolls_back_what_was_written(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "b.txt").write_text("b\n")
    plan = plan_patch(
        parse_patch(
            "*** Begin Patch\n*** Update File: a.txt\n-a\n+A\n*** Update File: locked/b.txt\n-b\n+B\n*** End Patch"
        ),
        str(tmp_path),
    )
    (locked / "b.txt").unlink()
    (locked / "b.txt").mkdir()  # writing a file over a directory fails
    with pytest.raises(PatchError, match="no file was changed"):
        write_plan(plan)
    assert (tmp_path / "a.txt").read_text() == "a\n"


def test_unified_hunks_have_no_headers() -> None:
    assert unified_hunks("hello\n", "hello, world\n") == "@@ -1 +1 @@\n-hello\n+hello, world\n"


def test_turn_diff_is_cumulative_and_git_shaped(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "f.txt").write_text("1\n")
    diff = TurnDiff(str(tmp_path))
    for text in (
        "*** Begin Patch\n*** Update File: f.txt\n-1\n+2\n*** End Patch",
        "*** Begin Patch\n*** Update File: f.txt\n-2\n+3\n*** End Patch",
    ):
        plan = plan_patch(parse_patch(text), str(tmp_path))
        diff.record(plan)
        write_plan(plan)
    rendered = diff.render()
    assert rendered.startswith("diff --git a/f.txt b/f.txt\nindex ")
    assert rendered.endswith("--- a/f.txt\n+++ b/f.txt\n@@ -1 +1 @@\n-1\n+3\n")
    (tmp_path / "f.txt").write_text("1\n")
    assert diff.render() == ""
