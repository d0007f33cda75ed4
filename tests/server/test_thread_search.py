"""thread/search and thread/searchOccurrences (experimental) through the real server: threads
found by what their messages say (the user's and the model's), snippets, pages in both sort
directions, the filters thread/list has, occurrences with UTF-16 ranges and turn cursors, and the
reference's errors, on either store (SQLite, or PostgreSQL as a fleet uses). Every message the
server sends is checked against the reference schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import run_turn, start_agent, start_thread
from support.server_process import ServerClient, Spawn


@pytest.fixture(params=["sqlite", "postgresql"])
def store_config(request: pytest.FixtureRequest) -> str:
    """The server's store: its own SQLite file, or a fresh PostgreSQL database (fleet mode)."""
    if request.param == "sqlite":
        return ""
    return f'[store]\nurl = "{request.getfixturevalue("pg_url")}"\n'


async def experimental_agent(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, store_config: str = ""
) -> ServerClient:
    return await start_agent(spawn, codex_home, model, extra_config=store_config, experimental=True)


async def thread_saying(server: ServerClient, model: FakeModelServer, question: str, answer: str) -> str:
    thread_id = await start_thread(server)
    model.enqueue(text_reply(answer))
    await run_turn(server, thread_id, question)
    return thread_id


def hits(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(hit["thread"]["id"], hit["snippet"]) for hit in result["data"]]


@pytest.mark.compat("search:visible-messages")
async def test_threads_are_found_by_what_their_messages_say(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, store_config: str
) -> None:
    server = await experimental_agent(spawn, codex_home, model, store_config)
    first = await thread_saying(server, model, "How do I parse TOML?", "Use tomllib from the standard library.")
    second = await thread_saying(server, model, "Rename the parser module", "Done: the Parser is now `toml_reader`.")
    third = await thread_saying(server, model, "Unrelated question", "Unrelated answer.")

    # Case-insensitive literal substrings of user and model messages; newest thread first, each
    # with the first message that matches as its snippet.
    found = await server.result("thread/search", {"searchTerm": "PARSE"})
    assert hits(found) == [(second, "Rename the parser module"), (first, "How do I parse TOML?")]
    assert found["nextCursor"] is None and found["backwardsCursor"] is not None
    assert hits(await server.result("thread/search", {"searchTerm": "standard lib"})) == [
        (first, "Use tomllib from the standard library.")
    ]
    # Words out of order are not the substring.
    assert (await server.result("thread/search", {"searchTerm": "library standard"}))["data"] == []
    # Terms too short for the trigram index are found by a scan, and FTS syntax is literal text.
    assert [thread for thread, _ in hits(await server.result("thread/search", {"searchTerm": "`t"}))] == [second]
    assert (await server.result("thread/search", {"searchTerm": 'toml" OR "x'}))["data"] == []
    assert (await server.result("thread/search", {"searchTerm": "unrelated*"}))["data"] == []
    assert [t for t, _ in hits(await server.result("thread/search", {"searchTerm": "unrelated"}))] == [third]
    # What the model was told about the environment is not part of the conversation.
    assert (await server.result("thread/search", {"searchTerm": "environment_context"}))["data"] == []

    # Paged like thread/list: oldest first on request, one per page, cursors in either direction.
    ascending = await server.result("thread/search", {"searchTerm": "toml", "limit": 1, "sortDirection": "asc"})
    assert [t for t, _ in hits(ascending)] == [first] and ascending["nextCursor"] is not None
    following = await server.result(
        "thread/search", {"searchTerm": "toml", "limit": 1, "sortDirection": "asc", "cursor": ascending["nextCursor"]}
    )
    assert [t for t, _ in hits(following)] == [second] and following["nextCursor"] is None
    by_update = await server.result("thread/search", {"searchTerm": "toml", "sortKey": "recency_at"})
    assert [t for t, _ in hits(by_update)] == [second, first]
    # As the reference, a limit of 0 is a page of one.
    assert len((await server.result("thread/search", {"searchTerm": "toml", "limit": 0}))["data"]) == 1

    # The filters of thread/list: archived threads only when asked, source kinds.
    await server.result("thread/archive", {"threadId": first})
    assert [t for t, _ in hits(await server.result("thread/search", {"searchTerm": "toml"}))] == [second]
    archived = await server.result("thread/search", {"searchTerm": "toml", "archived": True})
    assert [t for t, _ in hits(archived)] == [first]
    assert (await server.result("thread/search", {"searchTerm": "toml", "sourceKinds": ["cli"]}))["data"] == []

    # A deleted thread is gone from the index with the rest of it.
    await server.result("thread/delete", {"threadId": second})
    assert (await server.result("thread/search", {"searchTerm": "toml"}))["data"] == []


async def test_a_long_message_gives_a_window_around_the_match(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, store_config: str
) -> None:
    server = await experimental_agent(spawn, codex_home, model, store_config)
    text = "alpha " * 60 + "NEEDLE in the\n\nhaystack " + "omega " * 60
    thread_id = await thread_saying(server, model, text, "ok")
    [(found, snippet)] = hits(await server.result("thread/search", {"searchTerm": "needle"}))
    assert found == thread_id
    assert snippet.startswith("... alpha alpha") and snippet.endswith(" ...")
    # On one line, and short: the window, not the message.
    assert "NEEDLE in the haystack omega" in snippet and "\n" not in snippet and len(snippet) < 200


async def test_occurrences_of_a_term_within_one_thread(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, store_config: str
) -> None:
    server = await experimental_agent(spawn, codex_home, model, store_config)
    thread_id = await start_thread(server)
    model.enqueue(text_reply("No needle here, only hay."))
    first_turn = (await run_turn(server, thread_id, "needle twice: Needle and NEEDLE")).completed["id"]
    model.enqueue(text_reply("🙂 needle after an emoji"))
    second_turn = (await run_turn(server, thread_id, "again")).completed["id"]

    everything = await server.result("thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "needle"})
    occurrences = everything["data"]
    assert everything["nextCursor"] is None
    assert [o["turnId"] for o in occurrences] == [first_turn] * 4 + [second_turn]
    assert [o["snippetMatchRange"] for o in occurrences[:3]] == [
        {"start": 0, "end": 6},
        {"start": 14, "end": 20},
        {"start": 25, "end": 31},
    ]
    assert occurrences[0]["snippet"] == "needle twice: Needle and NEEDLE"
    assert occurrences[3]["snippet"] == "No needle here, only hay."
    # Ranges count UTF-16 code units: the emoji is two.
    assert occurrences[4]["snippet"] == "🙂 needle after an emoji"
    assert occurrences[4]["snippetMatchRange"] == {"start": 3, "end": 9}

    # The turn cursor opens thread/turns/list at the occurrence's turn.
    turns = await server.result(
        "thread/turns/list",
        {"threadId": thread_id, "cursor": occurrences[4]["turnCursor"], "sortDirection": "asc", "limit": 1},
    )
    assert [turn["id"] for turn in turns["data"]] == [second_turn]

    # Pages of two continue inside a message and across messages, and add up to the whole.
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"threadId": thread_id, "searchTerm": "needle", "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await server.result("thread/searchOccurrences", params)
        pages.extend(page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == occurrences

    assert (await server.result("thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "straw"}))[
        "data"
    ] == []
    # A cursor belongs to its thread and term.
    first_page = await server.result(
        "thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "needle", "limit": 1}
    )
    other_term = await server.call(
        "thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "hay", "cursor": first_page["nextCursor"]}
    )
    assert other_term["error"] == {"code": -32600, "message": f"invalid cursor: {first_page['nextCursor']}"}


async def test_errors_are_the_references(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, store_config: str
) -> None:
    server = await experimental_agent(spawn, codex_home, model, store_config)
    thread_id = await thread_saying(server, model, "hello", "hi")
    blank = await server.call("thread/search", {"searchTerm": "  "})
    assert blank["error"] == {"code": -32600, "message": "thread/search requires a non-empty searchTerm"}
    bad_cursor = await server.call("thread/search", {"searchTerm": "hello", "cursor": "bogus"})
    assert bad_cursor["error"] == {"code": -32600, "message": "invalid cursor: bogus"}
    blank = await server.call("thread/searchOccurrences", {"threadId": thread_id, "searchTerm": ""})
    assert blank["error"] == {"code": -32600, "message": "thread/searchOccurrences requires a non-empty searchTerm"}
    bad_cursor = await server.call(
        "thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "hello", "cursor": "bad"}
    )
    assert bad_cursor["error"] == {"code": -32600, "message": "invalid cursor: bad"}
    # The thread id is checked as every thread method checks it.
    not_an_id = await server.call("thread/searchOccurrences", {"threadId": "nope", "searchTerm": "hello"})
    as_read = (await server.call("thread/read", {"threadId": "nope"}))["error"]
    assert not_an_id["error"]["code"] == as_read["code"]
    assert not_an_id["error"]["message"].startswith("invalid thread id: 'nope' is not a UUID")


async def test_the_methods_need_the_experimental_opt_in(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    server = await start_agent(spawn, codex_home, model)
    refused = await server.call("thread/search", {"searchTerm": "x"})
    assert refused["error"]["code"] == -32600 and "experimentalApi" in refused["error"]["message"]


async def test_an_ephemeral_thread_is_searched_in_memory(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await experimental_agent(spawn, codex_home, model)
    thread_id = await start_thread(server, ephemeral=True)
    model.enqueue(text_reply("a needle in memory"))
    turn_id = (await run_turn(server, thread_id, "find the NEEDLE")).completed["id"]
    found = await server.result("thread/searchOccurrences", {"threadId": thread_id, "searchTerm": "needle"})
    assert [(o["turnId"], o["snippet"], o["snippetMatchRange"]) for o in found["data"]] == [
        (turn_id, "find the NEEDLE", {"start": 9, "end": 15}),
        (turn_id, "a needle in memory", {"start": 2, "end": 8}),
    ]
    turns = await server.result(
        "thread/turns/list", {"threadId": thread_id, "cursor": found["data"][0]["turnCursor"], "sortDirection": "asc"}
    )
    assert [turn["id"] for turn in turns["data"]] == [turn_id]
    # Never stored, so not among the stored threads thread/search pages through.
    assert (await server.result("thread/search", {"searchTerm": "needle"}))["data"] == []
