"""Fuzzy file search: the file list of a root (honouring ``.gitignore``), ranking, and the cache.

Owns: walking a root into an index of relative paths (files and directories, ``.git`` and
ignored entries left out, symlinked directories followed once), the gitignore matcher, the
subsequence matcher and its score, and :class:`FuzzySearcher`, which keeps one index per root
(rebuilt in the background when it gets old), runs searches off the event loop and cancels a
search when a newer one with the same cancellation token arrives. Layer: core (standard library
only).

Ranking, in the spirit of fzf's: every query atom (whitespace splits the query) must appear in
the path as a subsequence; matched characters score more at the start of a path segment or a
word, and when consecutive; gaps cost; a match inside the file name scores more than one spread
over directories, and an exact file name most. Lowercase queries match any case ("smart case").
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

#: Results per search, as the reference's.
MATCH_LIMIT = 50
#: An index older than this (or than ``REFRESH_WALKS`` times its own walk, if longer) is rebuilt in
#: the background while searches use it: a big tree is not re-walked every few keystrokes.
REFRESH_AFTER_S = 5.0
REFRESH_WALKS = 20
#: An index older than this is not used: searches wait for the rebuild.
MAX_AGE_S = 120.0
#: Roots whose index is kept.
MAX_ROOTS = 8
#: Searches look at the cancellation flag this often (candidates).
_CHECK_EVERY = 4096

# ---------------------------------------------------------------------- gitignore


def _glob_to_regex(glob: str) -> str:
    """One gitignore glob (no leading/trailing slash handling) as a regex over '/'-joined paths."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                before_ok = i == 0 or glob[i - 1] == "/"
                after = i + 2
                if before_ok and (after == n or glob[after] == "/"):
                    if after == n:
                        out.append(".*")  # trailing "/**": everything inside
                        i = after
                    else:
                        out.append("(?:.*/)?")  # "**/": any number of directories
                        i = after + 1
                    continue
            out.append("[^/]*")
            i += 1
            while i < n and glob[i] == "*":
                i += 1
            continue
        if c == "?":
            out.append("[^/]")
        elif c == "[":
            end = i + 1
            if end < n and glob[end] in "!^":
                end += 1
            if end < n and glob[end] == "]":
                end += 1
            while end < n and glob[end] != "]":
                end += 1
            if end >= n:
                out.append(re.escape(c))  # an unclosed bracket is literal
            else:
                body = glob[i + 1 : end]
                if body[:1] in ("!", "^"):
                    out.append(f"[^/{body[1:]}]")  # a negated class never matches the separator
                else:
                    out.append(f"[{body}]")
                i = end + 1
                continue
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Rule:
    regex: str
    negated: bool
    dir_only: bool


def parse_gitignore(text: str) -> list[_Rule]:
    rules: list[_Rule] = []
    for raw in text.splitlines():
        line = raw
        # Trailing spaces are ignored unless escaped.
        while line.endswith(" ") and not line.endswith("\\ "):
            line = line[:-1]
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            continue
        body = _glob_to_regex(line)
        rules.append(_Rule(body if anchored else f"(?:.*/)?{body}", negated, dir_only))
    return rules


class GitIgnore:
    """The rules of one ``.gitignore``, for paths relative to its directory.

    The last matching rule decides (a ``!`` rule re-includes); all rules are one regex per entry
    kind, with the rules in reverse order so that the first alternative that matches is the last
    rule in the file.
    """

    def __init__(self, rules: list[_Rule]) -> None:
        self._negated: dict[str, bool] = {}
        self._files = self._compile([rule for rule in rules if not rule.dir_only], rules)
        self._dirs = self._compile(rules, rules)

    def _compile(self, chosen: list[_Rule], every: list[_Rule]) -> re.Pattern[str] | None:
        if not chosen:
            return None
        parts = []
        for rule in reversed(chosen):
            name = f"r{every.index(rule)}"
            self._negated[name] = rule.negated
            parts.append(f"(?P<{name}>{rule.regex})")
        return re.compile("|".join(parts), re.DOTALL)

    def decide(self, relative: str, is_dir: bool) -> bool | None:
        """True: ignored; False: explicitly re-included; None: no rule matches."""
        regex = self._dirs if is_dir else self._files
        if regex is None:
            return None
        match = regex.fullmatch(relative)
        if match is None or match.lastgroup is None:
            return None
        return not self._negated[match.lastgroup]

    @classmethod
    def load(cls, path: str) -> GitIgnore | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                rules = parse_gitignore(handle.read())
        except OSError:
            return None
        return cls(rules) if rules else None


# ---------------------------------------------------------------------- the index of a root


class Cancelled(Exception):
    """The search or walk was superseded."""


@dataclass(slots=True)
class FileIndex:
    """Every searchable entry under a root: relative paths, files and directories alike."""

    root: str
    paths: list[str] = field(default_factory=list)
    #: The same paths lowercased (same length, so positions carry over).
    lowered: list[str] = field(default_factory=list)
    is_dir: list[bool] = field(default_factory=list)
    built_at: float = 0.0
    walk_seconds: float = 0.0
    #: File names (last segment) and file names without their extension, as cased and lowercased.
    names: list[str] = field(default_factory=list)
    stems: list[str] = field(default_factory=list)
    lowered_names: list[str] = field(default_factory=list)
    lowered_stems: list[str] = field(default_factory=list)


def _lower(text: str) -> str:
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few characters lowercase to two (İ); keep those as they are so positions stay aligned.
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


def walk(root: str, cancel: threading.Event | None = None) -> FileIndex:
    """Index ``root``. Blocking: run it in a thread."""
    index = FileIndex(root=root, built_at=time.monotonic())
    paths, is_dir = index.paths, index.is_dir
    try:
        root_stat = os.stat(root)
    except OSError:
        return index
    seen_dirs = {(root_stat.st_dev, root_stat.st_ino)}
    # (absolute dir, relative dir, gitignores in force: [(relative base, matcher)])
    stack: list[tuple[str, str, list[tuple[str, GitIgnore]]]] = [(root, "", [])]
    visited = 0
    while stack:
        directory, relative, ignores = stack.pop()
        try:
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        if any(entry.name == ".gitignore" for entry in entries):
            own = GitIgnore.load(os.path.join(directory, ".gitignore"))
            if own is not None:
                ignores = [*ignores, (relative, own)]
        subdirs = []
        for entry in entries:
            name = entry.name
            visited += 1
            if cancel is not None and visited % _CHECK_EVERY == 0 and cancel.is_set():
                raise Cancelled
            try:
                directory_entry = entry.is_dir()
            except OSError:
                directory_entry = False
            if directory_entry and name == ".git":
                continue
            rel = f"{relative}/{name}" if relative else name
            if _ignored(ignores, rel, directory_entry):
                continue
            if directory_entry:
                try:
                    info = entry.stat()
                except OSError:
                    continue
                key = (info.st_dev, info.st_ino)
                if key in seen_dirs:
                    continue  # a symlink loop, or a directory already reached through another link
                seen_dirs.add(key)
                subdirs.append((entry.path, rel, ignores))
            paths.append(rel)
            is_dir.append(directory_entry)
        # Reversed so that the stack pops directories in name order.
        stack.extend(reversed(subdirs))
    index.walk_seconds = time.monotonic() - index.built_at
    index.lowered = [_lower(path) for path in paths]
    index.names = [path.rpartition("/")[2] for path in paths]
    index.stems = [name.rpartition(".")[0] or name for name in index.names]
    index.lowered_names = [path.rpartition("/")[2] for path in index.lowered]
    index.lowered_stems = [name.rpartition(".")[0] or name for name in index.lowered_names]
    return index


def _ignored(ignores: list[tuple[str, GitIgnore]], relative: str, is_dir: bool) -> bool:
    # The deepest .gitignore with a matching rule decides.
    for base, matcher in reversed(ignores):
        sub = relative[len(base) + 1 :] if base else relative
        decision = matcher.decide(sub, is_dir)
        if decision is not None:
            return decision
    return False


# ---------------------------------------------------------------------- matching and scoring

SCORE_MATCH = 16
BONUS_SEGMENT_START = 12
BONUS_WORD_START = 9
BONUS_CAMEL = 7
BONUS_CONSECUTIVE = 8
FIRST_CHAR_MULTIPLIER = 2
GAP_START = 3
GAP_EXTEND = 1
BONUS_IN_FILE_NAME = 24
BONUS_FILE_NAME_PREFIX = 24
BONUS_EXACT_FILE_NAME = 48

_WORD_SEPARATORS = frozenset("_-. ")


@dataclass(frozen=True, slots=True)
class Match:
    root: str
    path: str
    is_dir: bool
    score: int
    indices: list[int]

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def to_wire(self) -> dict[str, Any]:
        """The reference's ``FuzzyFileSearchResult`` (its fields are snake_case on the wire)."""
        return {
            "root": self.root,
            "path": self.path,
            "match_type": "directory" if self.is_dir else "file",
            "file_name": self.file_name,
            "score": self.score,
            "indices": self.indices,
        }


def _positions(text: str, atom: str, start: int) -> list[int] | None:
    """The matched positions of ``atom`` in ``text[start:]``: the first complete match, then
    tightened from its end backwards so the window is as short as that end allows."""
    find = text.find
    pos = start - 1
    for ch in atom:
        pos = find(ch, pos + 1)
        if pos < 0:
            return None
    end = pos
    rfind = text.rfind
    positions = [end]
    for ch in reversed(atom[:-1]):
        end = rfind(ch, start, end)
        positions.append(end)
    positions.reverse()
    return positions


def _score_positions(original: str, text: str, positions: list[int]) -> int:
    score = 0
    previous = -2
    for k, p in enumerate(positions):
        bonus = 0
        if p == 0 or text[p - 1] == "/":
            bonus = BONUS_SEGMENT_START
        elif text[p - 1] in _WORD_SEPARATORS:
            bonus = BONUS_WORD_START
        elif original[p].isupper() and original[p - 1].islower():
            bonus = BONUS_CAMEL
        if p == previous + 1:
            bonus = max(bonus, BONUS_CONSECUTIVE)
        elif k > 0:
            score -= GAP_START + (p - previous - 2) * GAP_EXTEND
        score += SCORE_MATCH + (bonus * FIRST_CHAR_MULTIPLIER if k == 0 else bonus)
        previous = p
    return score


def score_path(original: str, text: str, atoms: Iterable[str]) -> tuple[int, list[int]] | None:
    """The fine score and matched positions of ``text`` (``original`` as cased in the tree) for
    every atom, or None when an atom does not match."""
    name_start = text.rfind("/") + 1
    name = text[name_start:]
    total = 0
    indices: set[int] = set()
    for atom in atoms:
        in_name = _positions(text, atom, name_start)
        positions = in_name if in_name is not None else _positions(text, atom, 0)
        if positions is None:
            return None
        total += _score_positions(original, text, positions)
        if in_name is not None:
            total += BONUS_IN_FILE_NAME
            if name.startswith(atom):
                total += BONUS_FILE_NAME_PREFIX
            if name == atom or name.rsplit(".", 1)[0] == atom:
                total += BONUS_EXACT_FILE_NAME
        indices.update(positions)
    # Among equals, a shorter path (fewer directories to wade through) first.
    total -= len(text) // 16
    return min(max(total, 0), TIER_WIDTH - 1), sorted(indices)


def _prefilter(atoms: list[str]) -> Callable[[str], object]:
    """A C-speed test that a path contains every atom as a subsequence (``a[^b]*b[^c]*c``)."""

    def chain(atom: str) -> str:
        parts = [re.escape(atom[0])]
        parts += [f"[^{re.escape(ch)}]*{re.escape(ch)}" for ch in atom[1:]]
        return "".join(parts)

    if len(atoms) == 1:
        return re.compile(chain(atoms[0]), re.DOTALL).search
    return re.compile("".join(f"(?=.*?{chain(atom)})" for atom in atoms), re.DOTALL).match


def query_atoms(query: str) -> tuple[list[str], bool]:
    """The query's atoms and whether matching is case-sensitive (only when it has uppercase)."""
    atoms = query.split()
    case_sensitive = any(ch.isupper() for ch in query)
    return (atoms if case_sensitive else [_lower(atom) for atom in atoms]), case_sensitive


#: Scores are ``tier * TIER_WIDTH + fine score``: the tier orders first, the fine score within it.
TIER_WIDTH = 10_000
TIER_EXACT_NAME, TIER_NAME_PREFIX, TIER_IN_NAME, TIER_NAME_SUBSEQUENCE, TIER_IN_PATH, TIER_PATH = 5, 4, 3, 2, 1, 0


def _tiers(
    index: FileIndex, atoms: list[str], case_sensitive: bool, pool: list[int]
) -> Iterable[tuple[int, list[int]]]:
    """``pool`` split by match quality, best tier first, lazily (a search stops once the tiers seen
    hold enough matches, since no later tier can outrank them):

    5 the file name (or the name without its extension) is the query · 4 the file name starts
    with it · 3 the file name contains it · 2 the file name contains it as a subsequence ·
    1 the path contains it · 0 the path contains it as a subsequence.
    With several atoms, each tier needs every atom (exact names count as prefixes).
    """
    names = index.names if case_sensitive else index.lowered_names
    stems = index.stems if case_sensitive else index.lowered_stems
    paths = index.paths if case_sensitive else index.lowered
    name_test = _prefilter(atoms)
    single = atoms[0] if len(atoms) == 1 else None
    tests: list[tuple[int, Callable[[int], bool]]]
    if single is not None:
        tests = [
            (TIER_EXACT_NAME, lambda i: names[i] == single or stems[i] == single),
            (TIER_NAME_PREFIX, lambda i: names[i].startswith(single)),
            (TIER_IN_NAME, lambda i: single in names[i]),
            (TIER_NAME_SUBSEQUENCE, lambda i: name_test(names[i]) is not None),
            (TIER_IN_PATH, lambda i: single in paths[i]),
        ]
    else:
        tests = [
            (
                TIER_NAME_PREFIX,
                lambda i: (
                    all(names[i].startswith(atom) or atom in names[i] for atom in atoms)
                    and any(names[i].startswith(atom) for atom in atoms)
                ),
            ),
            (TIER_IN_NAME, lambda i: all(atom in names[i] for atom in atoms)),
            (TIER_NAME_SUBSEQUENCE, lambda i: name_test(names[i]) is not None),
            (TIER_IN_PATH, lambda i: all(atom in paths[i] for atom in atoms)),
        ]
    remaining = pool
    for tier, test in tests:
        members: list[int] = []
        rest: list[int] = []
        for i in remaining:
            (members if test(i) else rest).append(i)
        if members:
            yield tier, members
        remaining = rest
    if remaining:
        yield TIER_PATH, remaining


def search_index(
    index: FileIndex,
    atoms: list[str],
    case_sensitive: bool,
    limit: int = MATCH_LIMIT,
    cancel: threading.Event | None = None,
    candidates: list[int] | None = None,
) -> tuple[list[Match], list[int]]:
    """The best ``limit`` matches in ``index``, and every entry that passed the prefilter (a
    query that extends this one only needs to look at those). Blocking: run it in a thread."""
    haystack = index.paths if case_sensitive else index.lowered
    test = _prefilter(atoms)
    pool = range(len(haystack)) if candidates is None else candidates
    passed = [i for i in pool if test(haystack[i])]
    paths = index.paths
    scored: list[tuple[int, str, int]] = []
    for tier, members in _tiers(index, atoms, case_sensitive, passed):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        base = tier * TIER_WIDTH
        if len(atoms) == 1 and tier >= TIER_NAME_PREFIX and len(members) > limit:
            # The file name starts with the one atom: every member matches the same characters
            # the same way, so the fine score only falls with the path length; rank by that
            # first and score just the winners.
            members = heapq.nsmallest(limit, members, key=lambda i: (len(paths[i]) // 16, paths[i]))
        for count, i in enumerate(members, 1):
            if cancel is not None and count % _CHECK_EVERY == 0 and cancel.is_set():
                raise Cancelled
            result = score_path(paths[i], haystack[i], atoms)
            if result is not None:
                scored.append((base + result[0], paths[i], i))
        if len(scored) >= limit:
            break
    best = heapq.nsmallest(limit, scored, key=lambda entry: (-entry[0], entry[1]))
    matches = []
    for score, path, i in best:
        result = score_path(path, haystack[i], atoms)
        indices = result[1] if result is not None else []
        matches.append(Match(index.root, path, index.is_dir[i], score, indices))
    return matches, passed


# ---------------------------------------------------------------------- the searcher


@dataclass
class _RootCache:
    index: FileIndex | None = None
    building: asyncio.Future[FileIndex] | None = None
    #: The last search of this index: its atoms, case flag, and the entries that passed its prefilter.
    last: tuple[FileIndex, list[str], bool, list[int]] | None = None


class FuzzySearcher:
    """Searches roots; one per server process."""

    def __init__(self, *, refresh_after_s: float = REFRESH_AFTER_S, max_age_s: float = MAX_AGE_S) -> None:
        self._roots: OrderedDict[str, _RootCache] = OrderedDict()
        self._tokens: dict[str, threading.Event] = {}
        self._refresh_after_s = refresh_after_s
        self._max_age_s = max_age_s

    async def search(self, query: str, roots: list[str], cancellation_token: str | None = None) -> list[Match]:
        """The best matches over ``roots``, best first; [] for an empty query or a cancelled search."""
        cancel = threading.Event()
        if cancellation_token is not None:
            previous = self._tokens.get(cancellation_token)
            if previous is not None:
                previous.set()
            self._tokens[cancellation_token] = cancel
        try:
            atoms, case_sensitive = query_atoms(query)
            if not atoms or not roots:
                return []
            matches: list[Match] = []
            for root in dict.fromkeys(roots):
                index = await self._index(root)
                if cancel.is_set():
                    return []
                cache = self._roots.get(root)
                candidates = None
                if cache is not None and cache.last is not None and cache.last[0] is index:
                    _, old_atoms, old_case, old_passed = cache.last
                    if old_case == case_sensitive and _extends(old_atoms, atoms):
                        candidates = old_passed
                try:
                    found, passed = await asyncio.to_thread(
                        search_index, index, atoms, case_sensitive, MATCH_LIMIT, cancel, candidates
                    )
                except Cancelled:
                    return []
                if cache is not None:
                    cache.last = (index, atoms, case_sensitive, passed)
                matches += found
            matches.sort(key=lambda match: (-match.score, match.path, match.root))
            return matches[:MATCH_LIMIT]
        finally:
            if cancellation_token is not None and self._tokens.get(cancellation_token) is cancel:
                del self._tokens[cancellation_token]

    async def _index(self, root: str) -> FileIndex:
        cache = self._roots.get(root)
        if cache is None:
            cache = self._roots[root] = _RootCache()
            while len(self._roots) > MAX_ROOTS:
                # A walk still running for the evicted root finishes for whoever awaits it.
                self._roots.popitem(last=False)
        self._roots.move_to_end(root)
        index = cache.index
        age = time.monotonic() - index.built_at if index is not None else None
        if index is not None and age is not None:
            fresh_for = min(max(self._refresh_after_s, REFRESH_WALKS * index.walk_seconds), self._max_age_s)
            if age < fresh_for:
                return index
        building = cache.building
        if building is None or building.done():
            building = cache.building = asyncio.ensure_future(self._build(root, cache))
        if index is not None and age is not None and age < self._max_age_s:
            return index  # stale but recent: the rebuild finishes in the background
        return await asyncio.shield(building)

    async def _build(self, root: str, cache: _RootCache) -> FileIndex:
        index = await asyncio.to_thread(walk, root)
        cache.index = index
        return index

    async def close(self) -> None:
        for cache in self._roots.values():
            if cache.building is not None and not cache.building.done():
                cache.building.cancel()
                with contextlib.suppress(BaseException):
                    await cache.building
        self._roots.clear()


def _extends(old_atoms: list[str], new_atoms: list[str]) -> bool:
    """Whether every path matching ``new_atoms`` also matches ``old_atoms`` (the user typed on)."""
    if len(new_atoms) < len(old_atoms):
        return False
    return all(_is_subsequence(old, new) for old, new in zip(old_atoms, new_atoms, strict=False))


def _is_subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)
