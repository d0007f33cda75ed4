"""Fuzzy file search sessions: search-as-you-type over fixed roots, for one client at a time.

Owns: each connection's sessions (``fuzzyFileSearch/sessionStart|Update|Stop``), running one
search per session at a time (a newer query cancels the older, whose results are never sent),
and reporting each finished search as ``fuzzyFileSearch/sessionUpdated`` then
``fuzzyFileSearch/sessionCompleted`` to the session's own client. The searching itself is the
server's one :class:`~.fuzzy.FuzzySearcher` (its walk caches are shared with ``fuzzyFileSearch``).
Layer: core.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..rpc.errors import InvalidParams
from .fuzzy import FuzzySearcher

Send = Callable[[str, dict[str, Any]], None]


@dataclass
class _Session:
    session_id: str
    roots: list[str]
    send: Send
    #: Bumped by every update: only the newest query's results are sent.
    generation: int = 0
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class FuzzySessions:
    def __init__(self, searcher: FuzzySearcher) -> None:
        self._searcher = searcher
        self._sessions: dict[tuple[int, str], _Session] = {}

    def start(self, owner: int, session_id: str, roots: list[str], send: Send) -> None:
        """(Re)start a session of connection ``owner``; an existing one with that id is replaced."""
        if not roots:
            raise InvalidParams("`roots`: at least one search directory is required")
        self.stop(owner, session_id)
        # As the reference: a relative root is the server's working directory's.
        self._sessions[(owner, session_id)] = _Session(session_id, [os.path.abspath(root) for root in roots], send)

    def update(self, owner: int, session_id: str, query: str) -> None:
        session = self._sessions.get((owner, session_id))
        if session is None:
            raise InvalidParams(
                f"fuzzy file search session not found: {session_id}; start it with fuzzyFileSearch/sessionStart"
            )
        session.generation += 1
        session.task = asyncio.get_running_loop().create_task(
            self._search(owner, session, query, session.generation), name=f"fuzzy-session-{session_id}"
        )

    def stop(self, owner: int, session_id: str) -> None:
        """End the session (a session that is not there is already stopped)."""
        session = self._sessions.pop((owner, session_id), None)
        if session is not None and session.task is not None:
            session.task.cancel()

    def owner_closed(self, owner: int) -> None:
        for owner_id, session_id in [key for key in self._sessions if key[0] == owner]:
            self.stop(owner_id, session_id)

    async def _search(self, owner: int, session: _Session, query: str, generation: int) -> None:
        token = f"fuzzy-session:{owner}:{session.session_id}"
        with contextlib.suppress(asyncio.CancelledError):
            matches = await self._searcher.search(query, session.roots, cancellation_token=token)
            if session.generation != generation or self._sessions.get((owner, session.session_id)) is not session:
                return  # a newer query (or a stop) took over: its answer is the one to send
            files = [match.to_wire() for match in matches]
            session.send(
                "fuzzyFileSearch/sessionUpdated", {"sessionId": session.session_id, "query": query, "files": files}
            )
            session.send("fuzzyFileSearch/sessionCompleted", {"sessionId": session.session_id})
