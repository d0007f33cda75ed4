"""Plugins and marketplaces: ``marketplace/add|remove|upgrade``, ``plugin/list|installed|read``,
``plugin/install|uninstall``.

Marketplaces are local directories and git repositories (``core.plugins``, ``core.marketplaces``);
OpenAI's remote catalog is not offered, so ``remoteMarketplaceName`` is refused saying so. After an
install or uninstall the user config is reloaded, so the plugin's MCP servers start (or stop) with
the next thread, and its skills show in the next ``skills/list``.
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ...core.marketplaces import add_marketplace, parse_source, remove_marketplace, upgrade_marketplaces
from ...core.plugins import (
    PluginError,
    PluginInternalError,
    install_plugin,
    list_plugins,
    read_plugin,
    uninstall_plugin,
)
from ...protocol import (
    MarketplaceAddParams,
    MarketplaceAddResponse,
    MarketplaceRemoveParams,
    MarketplaceRemoveResponse,
    MarketplaceUpgradeParams,
    MarketplaceUpgradeResponse,
    PluginInstalledParams,
    PluginInstallParams,
    PluginInstallResponse,
    PluginListParams,
    PluginListResponse,
    PluginReadParams,
    PluginUninstallParams,
    PluginUninstallResponse,
)
from ...rpc import InternalError, InvalidRequest
from ..connection import Connection
from . import handler
from .config import reload_user_config

T = TypeVar("T")

_REMOTE = (
    "{method}: remote marketplaces are OpenAI's plugin catalog, which this server does not connect to; "
    "pass marketplacePath (a marketplace.json on disk) instead"
)


async def _run(work: Callable[[], T]) -> T:
    """Run blocking plugin work off the loop; its errors become the reference's codes."""
    try:
        return await asyncio.to_thread(work)
    except PluginInternalError as exc:
        raise InternalError(exc.message) from None
    except PluginError as exc:
        raise InvalidRequest(exc.message) from None


async def _change(conn: Connection, work: Callable[[], T]) -> T:
    """Like :func:`_run`, one change at a time per server (they share config.toml and the cache)."""
    async with conn.app.services.plugin_changes:
        return await _run(work)


#: Marketplace kinds the reference lists only from OpenAI's catalog, after ChatGPT sign-in.
_REMOTE_KINDS = ("workspace-directory", "shared-with-me", "created-by-me-remote")


def _absolute(value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        # The reference's own wording for a relative AbsolutePathBuf.
        raise InvalidRequest("Invalid request: AbsolutePathBuf deserialized without a base path")
    return Path(os.path.normpath(path))


def _home() -> Path | None:
    home = os.environ.get("HOME")
    return Path(home) if home else None


def _marketplace_path(method: str, marketplace_path: str | None, remote: str | None) -> Path:
    if (marketplace_path is None) == (remote is None):
        raise InvalidRequest(f"{method} requires exactly one of marketplacePath or remoteMarketplaceName")
    if marketplace_path is None:
        raise InvalidRequest(_REMOTE.format(method=method))
    return _absolute(marketplace_path)


@handler("plugin/list")
async def plugin_list(conn: Connection, params: PluginListParams) -> dict[str, Any] | PluginListResponse:
    cwds = [_absolute(cwd) for cwd in params.cwds or []]
    home = conn.app.config.codex_home
    kinds = params.marketplace_kinds
    remote = [kind for kind in kinds or [] if kind in _REMOTE_KINDS]
    if remote:
        raise InvalidRequest(
            f"plugin/list: marketplace kinds {', '.join(remote)} are OpenAI's remote plugin catalog, "
            "which this server does not connect to; list `local` marketplaces"
        )
    # `vertical` marketplaces come with OpenAI's catalog too, and list nothing without it (as the
    # reference signed out): only local marketplaces exist here.
    if kinds is not None and "local" not in kinds:
        return PluginListResponse(marketplaces=[])
    listed = await _run(lambda: list_plugins(home, _home(), cwds))
    # core.plugins builds the wire shape itself; a listing of hundreds of plugins is sent as built
    # rather than validated into models again (every reply is schema-checked in the tests).
    return {**listed, "featuredPluginIds": []}


@handler("plugin/installed")
async def plugin_installed(conn: Connection, params: PluginInstalledParams) -> dict[str, Any]:
    cwds = [_absolute(cwd) for cwd in params.cwds or []]
    home = conn.app.config.codex_home
    suggestions = params.install_suggestion_plugin_names or []
    listed = await _run(lambda: list_plugins(home, _home(), cwds, installed_only=True, suggestions=suggestions))
    return listed


@handler("plugin/read")
async def plugin_read(conn: Connection, params: PluginReadParams) -> dict[str, Any]:
    path = _marketplace_path("plugin/read", params.marketplace_path, params.remote_marketplace_name)
    home = conn.app.config.codex_home
    detail = await _run(lambda: read_plugin(home, path, params.plugin_name))
    return {"plugin": detail}


@handler("plugin/install")
async def plugin_install(conn: Connection, params: PluginInstallParams) -> PluginInstallResponse:
    path = _marketplace_path("plugin/install", params.marketplace_path, params.remote_marketplace_name)
    home = conn.app.config.codex_home
    auth_policy = await _change(conn, lambda: install_plugin(home, path, params.plugin_name))
    await reload_user_config(conn)
    return PluginInstallResponse.model_validate({"authPolicy": auth_policy, "appsNeedingAuth": []})


@handler("plugin/uninstall")
async def plugin_uninstall(conn: Connection, params: PluginUninstallParams) -> PluginUninstallResponse:
    home = conn.app.config.codex_home
    await _change(conn, lambda: uninstall_plugin(home, params.plugin_id))
    await reload_user_config(conn)
    return PluginUninstallResponse()


@handler("marketplace/add")
async def marketplace_add(conn: Connection, params: MarketplaceAddParams) -> MarketplaceAddResponse:
    home = conn.app.config.codex_home

    def add() -> MarketplaceAddResponse:
        source = parse_source(params.source, params.ref_name, params.sparse_paths or [], Path.cwd())
        outcome = add_marketplace(home, source)
        return MarketplaceAddResponse(
            marketplace_name=outcome.marketplace_name,
            installed_root=str(outcome.installed_root),
            already_added=outcome.already_added,
        )

    return await _change(conn, add)


@handler("marketplace/remove")
async def marketplace_remove(conn: Connection, params: MarketplaceRemoveParams) -> MarketplaceRemoveResponse:
    home = conn.app.config.codex_home
    removed = await _change(conn, lambda: remove_marketplace(home, params.marketplace_name))
    return MarketplaceRemoveResponse(
        marketplace_name=params.marketplace_name, installed_root=str(removed) if removed is not None else None
    )


@handler("marketplace/upgrade")
async def marketplace_upgrade(conn: Connection, params: MarketplaceUpgradeParams) -> MarketplaceUpgradeResponse:
    home = conn.app.config.codex_home
    outcome = await _change(conn, lambda: upgrade_marketplaces(home, params.marketplace_name))
    return MarketplaceUpgradeResponse.model_validate(
        {
            "selectedMarketplaces": outcome.selected,
            "upgradedRoots": [str(root) for root in outcome.upgraded_roots],
            "errors": outcome.errors,
        }
    )
