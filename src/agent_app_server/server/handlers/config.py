"""Config methods: ``config/read`` (effective config, layers, origins), ``config/value/write`` and
``config/batchWrite`` (edits to the user's config.toml, optionally reloaded into this process),
``configRequirements/read`` and ``experimentalFeature/list``.

A refused write answers -32602 with the reference's ``config_write_error_code`` in ``data``; the
file is then untouched (``core.config_edit``).
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ...core.config import ConfigError, load_config
from ...core.config_edit import (
    ConfigWriteError,
    Edit,
    WriteResult,
    effective,
    read_layers,
    session_flags_layer,
    split_key_path,
)
from ...core.config_edit import lookup as lookup_value
from ...core.paths import resolve_client_path
from ...protocol import (
    ConfigBatchWriteParams,
    ConfigReadParams,
    ConfigReadResponse,
    ConfigRequirementsReadResponse,
    ConfigValueWriteParams,
    ConfigWriteResponse,
    ExperimentalFeatureEnablementSetParams,
    ExperimentalFeatureEnablementSetResponse,
    ExperimentalFeatureListParams,
    ExperimentalFeatureListResponse,
)
from ...rpc import InternalError, InvalidParams
from ..connection import Connection
from . import handler


def absolute_path(method: str, field: str, value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        raise InvalidParams(f"Invalid params for {method}: `{field}` must be an absolute path (got {value!r})")
    return path


@handler("config/read")
async def config_read(conn: Connection, params: ConfigReadParams) -> Any:
    config = conn.app.config
    # As the reference: a relative cwd (the reference TUI sends ".") is the server's cwd's.
    cwd = Path(resolve_client_path(params.cwd)) if params.cwd is not None else None
    try:
        layers = await asyncio.to_thread(read_layers, config.codex_home, config.overrides, cwd)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InternalError(f"{config.codex_home / 'config.toml'} is not valid TOML: {exc}; fix it by hand") from None
    except ConfigError as exc:
        raise InternalError(str(exc)) from None
    merged, origins = effective(layers)
    response = {
        "config": merged,
        "origins": origins,
        "layers": [layer.to_wire() for layer in layers] if params.include_layers else None,
    }
    try:
        return ConfigReadResponse.model_validate(response)
    except ValidationError:
        # A value of the wrong type in a file: shown as written rather than hidden.
        return response


async def write_edits(conn: Connection, edits: list[Edit], expected: str | None, file_path: str | None) -> WriteResult:
    config = conn.app.config
    try:
        return await asyncio.to_thread(_write_sync, config.codex_home, edits, expected, file_path)
    except ConfigWriteError as exc:
        raise InvalidParams(exc.message, data={"config_write_error_code": exc.code}) from None
    except OSError as exc:
        raise InternalError(f"cannot write {config.codex_home / 'config.toml'}: {exc.strerror}") from None


def _write_sync(home: Path, edits: list[Edit], expected: str | None, file_path: str | None) -> WriteResult:
    from ...core.config_edit import write_user_config

    return write_user_config(home, edits, expected_version=expected, file_path=file_path)


def _response(conn: Connection, result: WriteResult, edits: list[Edit]) -> ConfigWriteResponse:
    """``okOverridden`` when a ``-c`` flag of this process wins over a value just written."""
    flags = session_flags_layer(conn.app.config.overrides)
    for edit in edits:
        if flags is None:
            break
        found, value = lookup_value(flags.config, split_key_path(edit.key_path))
        if found:
            return ConfigWriteResponse.model_validate(
                {
                    "status": "okOverridden",
                    "version": result.version,
                    "filePath": str(result.path),
                    "overriddenMetadata": {
                        "message": f"`{edit.key_path}` is overridden by a -c flag of this server",
                        "overridingLayer": flags.metadata,
                        "effectiveValue": value,
                    },
                }
            )
    return ConfigWriteResponse(status="ok", version=result.version, file_path=str(result.path))


@handler("config/value/write")
async def config_value_write(conn: Connection, params: ConfigValueWriteParams) -> ConfigWriteResponse:
    edits = [Edit(params.key_path, params.value, params.merge_strategy)]
    result = await write_edits(conn, edits, params.expected_version, params.file_path)
    return _response(conn, result, edits)


@handler("config/batchWrite")
async def config_batch_write(conn: Connection, params: ConfigBatchWriteParams) -> ConfigWriteResponse:
    edits = [Edit(edit.key_path, edit.value, edit.merge_strategy) for edit in params.edits]
    result = await write_edits(conn, edits, params.expected_version, params.file_path)
    if params.reload_user_config:
        await reload_user_config(conn)
    return _response(conn, result, edits)


async def reload_user_config(conn: Connection) -> None:
    """Apply the user's config.toml (and this process's -c flags) from the next thread/turn on."""
    app = conn.app
    old = app.config
    try:
        new = await asyncio.to_thread(load_config, old.codex_home, old.overrides)
    except ConfigError as exc:
        raise InternalError(f"the config was written but cannot be reloaded: {exc}") from None
    app.config = new
    app.model_clients.reconfigure(new)
    app.threads.reload(new)
    app.turns.tools.reconfigure(new)


@handler("configRequirements/read")
async def config_requirements_read(conn: Connection, params: None) -> ConfigRequirementsReadResponse:
    # No managed requirements (requirements.toml / MDM) are supported, so none apply.
    return ConfigRequirementsReadResponse(requirements=None)


@handler("experimentalFeature/list")
async def experimental_feature_list(
    conn: Connection, params: ExperimentalFeatureListParams
) -> ExperimentalFeatureListResponse:
    # This server has no experimental feature flags of its own: the list is empty, and a cursor
    # can only be one this method never handed out.
    if params.cursor is not None:
        raise InvalidParams(f"invalid cursor: {params.cursor}")
    if params.thread_id is not None:
        conn.app.threads.require_loaded(params.thread_id)
    return ExperimentalFeatureListResponse(data=[])


@handler("experimentalFeature/enablement/set")
async def experimental_feature_enablement_set(
    conn: Connection, params: ExperimentalFeatureEnablementSetParams
) -> ExperimentalFeatureEnablementSetResponse:
    # As the reference for names it does not know: nothing changes, and the (empty) set of
    # changed entries says so. This server has no feature flags, so every name is unknown.
    return ExperimentalFeatureEnablementSetResponse(enablement={})
