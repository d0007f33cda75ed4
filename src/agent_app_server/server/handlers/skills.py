"""Skills and hooks: ``skills/list``, ``skills/config/write``, ``hooks/list``, and ``skills/changed``
to every client when skill files change on disk (after the first ``skills/list``).

Layer: server (discovery is ``core.skills``; the cache is ``AppServer.services.skills``).
"""

from __future__ import annotations

import asyncio
import os
import tomllib
from pathlib import Path
from typing import Any

from ...core.config_edit import ConfigWriteError, user_config_path
from ...core.paths import resolve_client_path
from ...core.skills import list_hooks, write_skill_enabled
from ...protocol import (
    HooksListParams,
    HooksListResponse,
    SkillsConfigWriteParams,
    SkillsConfigWriteResponse,
    SkillsExtraRootsSetParams,
    SkillsExtraRootsSetResponse,
    SkillsListParams,
    SkillsListResponse,
)
from ...rpc import InternalError, InvalidParams, Reply
from ..connection import Connection
from . import handler
from .config import absolute_path


def _cwds(cwds: list[str]) -> list[Path]:
    return [Path(resolve_client_path(cwd)) for cwd in cwds] or [Path(os.getcwd())]


def _user_values(home: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(user_config_path(home).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


@handler("skills/list")
async def skills_list(conn: Connection, params: SkillsListParams) -> SkillsListResponse:
    cwds = _cwds(params.cwds)
    cache = conn.app.services.skills
    # Read fresh: skills/config/write may have changed which skills are enabled.
    values = await asyncio.to_thread(_user_values, conn.app.config.codex_home)
    data = []
    for cwd in cwds:
        found = await cache.list(cwd, values, params.force_reload)
        data.append({"cwd": str(cwd), "skills": found.skills, "errors": found.errors})
    return SkillsListResponse.model_validate({"data": data})


@handler("skills/config/write")
async def skills_config_write(conn: Connection, params: SkillsConfigWriteParams) -> SkillsConfigWriteResponse:
    # An empty name selects nothing, as the reference.
    if (not params.name) == (params.path is None):
        raise InvalidParams("skills/config/write requires exactly one of path or name")
    if params.path is not None:
        absolute_path("skills/config/write", "path", params.path)
    home = conn.app.config.codex_home
    try:
        await asyncio.to_thread(write_skill_enabled, home, params.name or None, params.path, params.enabled)
    except ConfigWriteError as exc:
        raise InvalidParams(exc.message, data={"config_write_error_code": exc.code}) from None
    except OSError as exc:
        raise InternalError(f"cannot write {user_config_path(home)}: {exc.strerror}") from None
    return SkillsConfigWriteResponse(effective_enabled=params.enabled)


@handler("hooks/list")
async def hooks_list(conn: Connection, params: HooksListParams) -> HooksListResponse:
    if params.thread_id is not None:
        if params.cwds:
            raise InvalidParams("specify either threadId or cwds")
        cwds = [Path(conn.app.threads.require_loaded(params.thread_id).settings.cwd)]
    else:
        cwds = _cwds(params.cwds)
    home = conn.app.config.codex_home
    data = []
    for cwd in cwds:
        hooks, warnings, errors = await asyncio.to_thread(list_hooks, home, cwd)
        data.append({"cwd": str(cwd), "hooks": hooks, "warnings": warnings, "errors": errors})
    return HooksListResponse.model_validate({"data": data})


@handler("skills/extraRoots/set")
async def skills_extra_roots_set(conn: Connection, params: SkillsExtraRootsSetParams) -> Reply:
    roots = [absolute_path("skills/extraRoots/set", "extraRoots", root) for root in params.extra_roots]
    app = conn.app
    app.services.skills.set_extra_roots(roots)
    # As the reference: every client hears that the skills may have changed.
    return Reply(SkillsExtraRootsSetResponse(), lambda: app.emit(None, "skills/changed", {}))
