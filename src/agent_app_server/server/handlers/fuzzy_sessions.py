"""``fuzzyFileSearch/sessionStart|Update|Stop`` (experimental): search-as-you-type, answered with
``fuzzyFileSearch/sessionUpdated`` and ``sessionCompleted`` to the calling connection only
(``core.fuzzy_sessions``). Layer: server.
"""

from __future__ import annotations

from ...protocol.fs import (
    FuzzyFileSearchSessionStartParams,
    FuzzyFileSearchSessionStartResponse,
    FuzzyFileSearchSessionStopParams,
    FuzzyFileSearchSessionStopResponse,
    FuzzyFileSearchSessionUpdateParams,
    FuzzyFileSearchSessionUpdateResponse,
)
from ..connection import Connection
from . import handler


@handler("fuzzyFileSearch/sessionStart")
async def session_start(
    conn: Connection, params: FuzzyFileSearchSessionStartParams
) -> FuzzyFileSearchSessionStartResponse:
    conn.app.services.fuzzy_sessions.start(conn.id, params.session_id, params.roots, conn.notify)
    return FuzzyFileSearchSessionStartResponse()


@handler("fuzzyFileSearch/sessionUpdate")
async def session_update(
    conn: Connection, params: FuzzyFileSearchSessionUpdateParams
) -> FuzzyFileSearchSessionUpdateResponse:
    conn.app.services.fuzzy_sessions.update(conn.id, params.session_id, params.query)
    return FuzzyFileSearchSessionUpdateResponse()


@handler("fuzzyFileSearch/sessionStop")
async def session_stop(
    conn: Connection, params: FuzzyFileSearchSessionStopParams
) -> FuzzyFileSearchSessionStopResponse:
    conn.app.services.fuzzy_sessions.stop(conn.id, params.session_id)
    return FuzzyFileSearchSessionStopResponse()
