"""thread/search snippets and thread/searchOccurrences ranges, word for word against the reference:
the same messages on both sides (a long one cut on both ends, a short one, one over many lines,
one with characters outside the BMP before the match), the same snippet, the same occurrence
snippet and the same UTF-16 match range. Skipped without the reference binary."""

from __future__ import annotations

from typing import Any

import pytest

from differential.harness import Pair, Side

MESSAGES = [
    "alpha " * 60 + "NEEDLE in the haystack " + "omega " * 60,
    "short needle text",
    "x" * 30 + " needle " + "y\n" * 80,
    "émoji 🙂 " * 20 + "needle" + " ü" * 100,
]


async def snippets(side: Side, text: str) -> tuple[Any, ...]:
    thread_id = await side.new_thread()
    turn_id = await side.start_turn(thread_id, text)
    await side.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn_id)
    # The newest thread first: this one.
    [hit] = (await side.result("thread/search", {"searchTerm": "needle", "limit": 1}))["data"]
    [first, *_] = (await side.result("thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "needle"}))[
        "data"
    ]
    return hit["thread"]["id"] == thread_id, hit["snippet"], first["snippet"], first["snippetMatchRange"]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("text", MESSAGES, ids=["long", "short", "lines", "astral"])
async def test_snippets_match_the_reference(pair: Pair, text: str) -> None:
    reference, ours = await pair.each(lambda side: snippets(side, text))
    assert reference[0] and ours[0]
    assert ours == reference
