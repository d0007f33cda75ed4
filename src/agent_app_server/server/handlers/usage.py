"""``account/usage/read``: the token usage this server recorded (``core.usage``). Layer: server."""

from __future__ import annotations

from ...protocol.usage import GetAccountTokenUsageParams, GetAccountTokenUsageResponse
from ..connection import Connection
from . import handler


@handler("account/usage/read")
async def usage_read(conn: Connection, params: GetAccountTokenUsageParams | None) -> GetAccountTokenUsageResponse:
    thread_id = params.thread_id if params is not None else None
    return GetAccountTokenUsageResponse.model_validate(await conn.app.turns.usage.read(thread_id))
