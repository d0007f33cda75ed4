"""``externalAgentConfig/*``: another agent's configuration detected and imported
(``core.external_agent``), with ``externalAgentConfig/import/progress`` per item and
``…/completed`` at the end, after the reply. Layer: server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ...protocol.external_agent import (
    ExternalAgentConfigDetectParams,
    ExternalAgentConfigDetectResponse,
    ExternalAgentConfigImportHistoriesReadResponse,
    ExternalAgentConfigImportHistoryRecordParams,
    ExternalAgentConfigImportHistoryRecordResponse,
    ExternalAgentConfigImportParams,
    ExternalAgentConfigImportResponse,
)
from ...rpc import Reply
from ..connection import Connection
from . import handler

_imports: set[asyncio.Task[None]] = set()


@handler("externalAgentConfig/detect")
async def detect(conn: Connection, params: ExternalAgentConfigDetectParams) -> ExternalAgentConfigDetectResponse:
    service = conn.app.services.external_agent
    items = await asyncio.to_thread(service.detect, params.include_home, params.cwds or [])
    return ExternalAgentConfigDetectResponse.model_validate({"items": items, "connectors": []})


@handler("externalAgentConfig/import")
async def import_(conn: Connection, params: ExternalAgentConfigImportParams) -> Reply:
    service = conn.app.services.external_agent
    import_id = str(uuid.uuid4())
    items = [item.to_wire() for item in params.migration_items]
    loop = asyncio.get_running_loop()

    def progress(result: dict[str, Any]) -> None:
        params_ = {"importId": import_id, "itemTypeResults": [result]}
        loop.call_soon_threadsafe(conn.notify, "externalAgentConfig/import/progress", params_)

    async def run() -> None:
        def work() -> list[dict[str, Any]]:
            results = service.run_import(items, progress)
            service.record(params.provider_id, results, import_id)
            return results

        results = await asyncio.to_thread(work)
        conn.notify("externalAgentConfig/import/completed", {"importId": import_id, "itemTypeResults": results})

    def start() -> None:
        task = loop.create_task(run(), name=f"external-agent-import-{import_id}")
        _imports.add(task)
        task.add_done_callback(_imports.discard)

    return Reply(ExternalAgentConfigImportResponse(import_id=import_id), start)


@handler("externalAgentConfig/import/recordHistory")
async def record_history(
    conn: Connection, params: ExternalAgentConfigImportHistoryRecordParams
) -> ExternalAgentConfigImportHistoryRecordResponse:
    service = conn.app.services.external_agent
    results = [result.to_wire() for result in params.item_type_results]
    import_id = await asyncio.to_thread(service.record, params.provider_id, results)
    return ExternalAgentConfigImportHistoryRecordResponse(import_id=import_id)


@handler("externalAgentConfig/import/readHistories")
async def read_histories(conn: Connection, params: None) -> ExternalAgentConfigImportHistoriesReadResponse:
    histories = await asyncio.to_thread(conn.app.services.external_agent.histories)
    return ExternalAgentConfigImportHistoriesReadResponse.model_validate({"data": histories, "connectors": []})
