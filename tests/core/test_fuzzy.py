"""The fuzzy file search core: gitignore semantics, the walk, ranking, narrowing and cancellation."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from agent_app_server.core.fuzzy import (
    Cancelled,
    FuzzySearcher,
    GitIgnore,
    parse_gitignore,
    query_atoms,
    search_index,
    walk,
)


def make_tree(root: Path, paths: list[str]) -> None:
    for relative in paths:
        path = root / relative
        if relative.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x")


def ignore(text: str) -> GitIgnore:
    return GitIgnore(parse_gitignore(text))


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "expected"),
    [
        ("*.log", "a.log", False, True),
        ("*.log", "deep/down/a.log", False, True),
        ("*.log", "a.log.txt", False, None),
        ("build/", "build", True, True),
        ("build/", "build", False, None),  # a directory-only rule skips files
        ("/top.txt", "top.txt", False, True),
        ("/top.txt", "sub/top.txt", False, None),
        ("docs/*.md", "docs/a.md", False, True),
        ("docs/*.md", "docs/sub/a.md", False, None),
        ("docs/**/*.md", "docs/sub/deeper/a.md", False, True),
        ("**/cache", "x/y/cache", True, True),
        ("out/**", "out/a/b", False, True),
        ("*.log\n!keep.log", "keep.log", False, False),
        ("!keep.log\n*.log", "keep.log", False, True),  # the last matching rule wins
        ("file[0-9].txt", "file7.txt", False, True),
        ("file[!0-9].txt", "filex.txt", False, True),
        ("file[!0-9].txt", "file7.txt", False, None),
        ("a?c", "abc", False, True),
        ("a?c", "a/c", False, None),
        ("\\#hash", "#hash", False, True),
        ("# comment\n\n  ", "comment", False, None),
        ("trailing   ", "trailing", False, True),
    ],
)
def test_gitignore_rules(rules: str, path: str, is_dir: bool, expected: bool | None) -> None:
    assert ignore(rules).decide(path, is_dir) is expected


@pytest.mark.compat("fuzzy:walk")
def test_walk_honours_nested_gitignores_and_skips_git(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [
            ".git/HEAD",
            ".gitignore",
            "node_modules/pkg/index.js",
            "src/app.py",
            "src/app.log",
            "src/.gitignore",
            "src/generated/out.py",
            "src/keep.log",
            ".github/workflows/ci.yml",
            "empty/",
        ],
    )
    (tmp_path / ".gitignore").write_text("node_modules/\n*.log\n")
    (tmp_path / "src" / ".gitignore").write_text("generated/\n!keep.log\n")
    index = walk(str(tmp_path))
    assert sorted(index.paths) == [
        ".github",
        ".github/workflows",
        ".github/workflows/ci.yml",
        ".gitignore",
        "empty",
        "src",
        "src/.gitignore",
        "src/app.py",
        "src/keep.log",
    ]
    assert index.is_dir[index.paths.index("empty")] and not index.is_dir[index.paths.index("src/app.py")]


def test_walk_follows_directory_links_once(tmp_path: Path) -> None:
    make_tree(tmp_path, ["real/file.txt"])
    os.symlink(tmp_path / "real", tmp_path / "alias")
    os.symlink(tmp_path, tmp_path / "real" / "loop")
    paths = walk(str(tmp_path)).paths
    assert paths.count("real/file.txt") + paths.count("alias/file.txt") == 1
    assert not any(path.count("loop") > 1 for path in paths)


def test_missing_root_is_an_empty_index(tmp_path: Path) -> None:
    assert walk(str(tmp_path / "nope")).paths == []


def search(root: Path, query: str, limit: int = 50) -> list[str]:
    atoms, case_sensitive = query_atoms(query)
    return [match.path for match in search_index(walk(str(root)), atoms, case_sensitive, limit)[0]]


@pytest.mark.compat("fuzzy:ranking")
def test_ranking(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        [
            "docs/handler_notes.md",
            "src/server/handler.py",
            "src/server/handlers/__init__.py",
            "src/server/request_handler.py",
            "lib/h/a/n/d/l/e/r.txt",
            "tests/test_handler.py",
        ],
    )
    ranked = search(tmp_path, "handler")
    # The exact file name first, then names starting with it, then names containing it, and a
    # scattered subsequence last.
    assert ranked[0] == "src/server/handler.py"
    assert ranked.index("src/server/handlers") < ranked.index("src/server/request_handler.py")
    assert ranked.index("src/server/request_handler.py") < ranked.index("lib/h/a/n/d/l/e/r.txt")
    assert ranked[-1] == "lib/h/a/n/d/l/e/r.txt"
    # Several atoms must all match; a subsequence spans words.
    assert search(tmp_path, "srv req") == ["src/server/request_handler.py"]
    assert search(tmp_path, "zzz") == []


def test_smart_case_and_indices(tmp_path: Path) -> None:
    make_tree(tmp_path, ["src/ReadMe.md", "src/readme.txt"])
    assert set(search(tmp_path, "readme")) == {"src/ReadMe.md", "src/readme.txt"}
    assert search(tmp_path, "ReadMe") == ["src/ReadMe.md"]
    atoms, case_sensitive = query_atoms("rdm")
    match = search_index(walk(str(tmp_path)), atoms, case_sensitive)[0][0]
    assert [match.path[i].lower() for i in match.indices] == ["r", "d", "m"]
    assert match.indices == sorted(match.indices)


def test_narrowed_candidates_give_the_same_results(tmp_path: Path) -> None:
    make_tree(tmp_path, [f"pkg{n}/mod_{n % 7}/file_{n}.py" for n in range(300)])
    index = walk(str(tmp_path))
    _, passed = search_index(index, ["f"], False)
    narrowed, _ = search_index(index, ["fi5"], False, candidates=passed)
    full, _ = search_index(index, ["fi5"], False)
    assert [m.path for m in narrowed] == [m.path for m in full] and full


def test_a_set_cancel_flag_stops_the_search(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt"])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        search_index(walk(str(tmp_path)), ["a"], False, cancel=cancel)


async def test_a_newer_search_with_the_same_token_cancels_the_older(tmp_path: Path) -> None:
    make_tree(tmp_path, [f"dir{n}/item{n}.txt" for n in range(50)])
    searcher = FuzzySearcher()
    try:
        older, newer = await asyncio.gather(
            searcher.search("item", [str(tmp_path)], "typing"),
            searcher.search("item1", [str(tmp_path)], "typing"),
        )
        assert older == []
        assert newer and newer[0].path.rsplit("/", 1)[-1].startswith("item1")
        # Without a shared token both run to the end.
        one, two = await asyncio.gather(
            searcher.search("item", [str(tmp_path)], "a"), searcher.search("item", [str(tmp_path)], "b")
        )
        assert one == two and len(one) == 50
        assert await searcher.search("   ", [str(tmp_path)]) == []
    finally:
        await searcher.close()


@pytest.mark.compat("fuzzy:walk")
async def test_the_index_is_cached_and_refreshed(tmp_path: Path) -> None:
    make_tree(tmp_path, ["first.txt"])
    searcher = FuzzySearcher(refresh_after_s=0.0, max_age_s=0.0)
    cached = FuzzySearcher()
    try:
        assert [m.path for m in await cached.search("txt", [str(tmp_path)])] == ["first.txt"]
        assert [m.path for m in await searcher.search("txt", [str(tmp_path)])] == ["first.txt"]
        (tmp_path / "second.txt").write_text("x")
        # A fresh index is reused as it is; an expired one is rebuilt before it is searched.
        assert [m.path for m in await cached.search("txt", [str(tmp_path)])] == ["first.txt"]
        assert sorted(m.path for m in await searcher.search("txt", [str(tmp_path)])) == ["first.txt", "second.txt"]
    finally:
        await searcher.close()
        await cached.close()
