"""Samples for the plugin and marketplace methods (merged into ``protocol_samples``)."""

from __future__ import annotations

from typing import Any

from agent_app_server.protocol import plugins as p
from agent_app_server.protocol._base import WireModel

CWD = "/home/user/project"
MARKETPLACE = CWD + "/.agents/plugins/marketplace.json"


def _summary() -> p.PluginSummary:
    return p.PluginSummary(
        id="alpha@local",
        name="alpha",
        source=p.LocalPluginSource(path=CWD + "/plugins/alpha"),
        installed=True,
        enabled=True,
        install_policy="AVAILABLE",
        auth_policy="ON_INSTALL",
        local_version="1.2.0",
        interface=p.PluginInterface(
            capabilities=["Read"],
            screenshot_urls=[],
            screenshots=[CWD + "/plugins/alpha/shot.png"],
            display_name="Alpha",
            category="Tools",
            default_prompt=["Say hello"],
        ),
        keywords=["greeting"],
    )


def _git_summary() -> p.PluginSummary:
    return p.PluginSummary(
        id="beta@local",
        name="beta",
        source=p.GitPluginSource(url="https://example.com/beta.git", path="plugins/beta", ref_name="main"),
        installed=False,
        enabled=False,
        install_policy="NOT_AVAILABLE",
        auth_policy="ON_USE",
    )


def plugin_methods() -> dict[str, tuple[WireModel, WireModel]]:
    entry = p.PluginMarketplaceEntry(
        name="local",
        path=MARKETPLACE,
        interface=p.MarketplaceInterface(display_name="Local"),
        plugins=[_summary(), _git_summary()],
    )
    error = p.MarketplaceLoadErrorInfo(marketplace_path="/home/user/.agents/plugins/marketplace.json", message="bad")
    return {
        "marketplace/add": (
            p.MarketplaceAddParams(source="owner/repo", ref_name="main", sparse_paths=["plugins"]),
            p.MarketplaceAddResponse(marketplace_name="local", installed_root=CWD, already_added=False),
        ),
        "marketplace/remove": (
            p.MarketplaceRemoveParams(marketplace_name="local"),
            p.MarketplaceRemoveResponse(marketplace_name="local", installed_root=None),
        ),
        "marketplace/upgrade": (
            p.MarketplaceUpgradeParams(marketplace_name=None),
            p.MarketplaceUpgradeResponse(
                selected_marketplaces=["a", "b"],
                upgraded_roots=["/home/user/.codex/.tmp/marketplaces/a"],
                errors=[p.MarketplaceUpgradeErrorInfo(marketplace_name="b", message="git ls-remote failed")],
            ),
        ),
        "plugin/list": (
            p.PluginListParams(cwds=[CWD], marketplace_kinds=["local"]),
            p.PluginListResponse(marketplaces=[entry], marketplace_load_errors=[error]),
        ),
        "plugin/installed": (
            p.PluginInstalledParams(cwds=[CWD], install_suggestion_plugin_names=["beta"]),
            p.PluginInstalledResponse(marketplaces=[entry]),
        ),
        "plugin/read": (
            p.PluginReadParams(plugin_name="alpha", marketplace_path=MARKETPLACE),
            p.PluginReadResponse(
                plugin=p.PluginDetail(
                    marketplace_name="local",
                    marketplace_path=MARKETPLACE,
                    summary=_summary(),
                    description="says hello",
                    skills=[
                        p.SkillSummary(
                            name="alpha:hello", description="hello", enabled=True, path=CWD + "/plugins/alpha/SKILL.md"
                        )
                    ],
                    hooks=[p.PluginHookSummary(key="k", event_name="preToolUse")],
                    apps=[],
                    app_templates=[],
                    mcp_servers=["alpha-echo"],
                )
            ),
        ),
        "plugin/install": (
            p.PluginInstallParams(plugin_name="alpha", marketplace_path=MARKETPLACE, install_attempt_id="a1"),
            p.PluginInstallResponse(auth_policy="ON_INSTALL", apps_needing_auth=[]),
        ),
        "plugin/uninstall": (p.PluginUninstallParams(plugin_id="alpha@local"), p.PluginUninstallResponse()),
    }


PLUGIN_CLIENT_PARAMS: dict[str, Any] = {
    "marketplace/add": {"source": CWD},
    "marketplace/remove": {"marketplaceName": "local"},
    "marketplace/upgrade": {},
    "plugin/list": {"cwds": [CWD]},
    "plugin/installed": {},
    "plugin/read": {"pluginName": "alpha", "marketplacePath": MARKETPLACE},
    "plugin/install": {"pluginName": "alpha", "marketplacePath": MARKETPLACE},
    "plugin/uninstall": {"pluginId": "alpha@local"},
}
