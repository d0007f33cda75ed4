"""Plugins and marketplaces, the reference and ours side by side: one scripted session each (a
home marketplace, a local one added, a git one served over HTTP on 127.0.0.1, a plugin with a
skill and a real MCP server installed, upgraded, uninstalled, removed), every answer compared in
full once each side's paths are written as ``<root>``, and the files both leave under
CODEX_HOME compared too (the same layout, so either server reads what the other installed).

Beyond the generated cases of ``test_differential.py`` (result or error, per params shape), this
checks the results themselves: plugin summaries and details, the skills an installed plugin adds
to skills/list, its MCP server in mcpServerStatus/list, upgrade outcomes.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from differential.harness import Pair, Side
from support.plugin_fixtures import (
    ECHO_MCP,
    MANIFEST,
    GitServer,
    git_server,
    write_git_sourced_marketplace,
    write_hooks,
    write_hostile_marketplaces,
    write_marketplace,
)
from support.reference import reference_binary


@dataclass(frozen=True)
class Scenario:
    pair: Pair
    served: GitServer
    #: The work tree published as the ``gitmk`` repository.
    source: Path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scenario(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scenario]:
    binary, why = reference_binary()
    if binary is None:
        pytest.skip(f"differential tests need the reference binary: {why}")
    pair = Pair([str(binary)])
    source = tmp_path_factory.mktemp("git-source")
    write_marketplace(source, "gitmk", ["delta"])
    sparse = tmp_path_factory.mktemp("sparse-source")
    write_marketplace(sparse, "sparsemk", ["one", "two"])
    with git_server(tmp_path_factory.mktemp("served")) as served:
        served.publish(source, "gitmk")
        served.publish(sparse, "sparsemk")
        for name in ("reference", "ours"):
            root = pair.run_dir / name
            write_git_sourced_marketplace(root / "urlmk", "urlmk", "delta", served.url("gitmk"), "plugins/delta")
            write_marketplace(root / "home", "homemk", ["gamma"])
            write_marketplace(root / "scenario", "localmk", ["alpha", "beta"], mcp={"alpha": ECHO_MCP})
            write_hooks(root / "scenario" / "plugins" / "alpha")
            write_hostile_marketplaces(root / "hostile")
        try:
            await pair.start()
            yield Scenario(pair, served, source)
        finally:
            await pair.close()


def normalized(value: Any, side: Side) -> Any:
    """``value`` with the side's own directory written as ``<root>``."""
    return json.loads(json.dumps(value).replace(str(side.root), "<root>"))


def skills_of_plugins(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugin skills of a skills/list answer (the servers' own system skills differ: skills:system)."""
    return [
        {key: skill[key] for key in ("name", "description", "path", "scope", "enabled", "pluginId")}
        for entry in result["data"]
        for skill in entry["skills"]
        if skill.get("pluginId")
    ]


def differs(method: str, params: dict[str, Any], ours: Any, reference: Any) -> str:
    return f"{method} {params}\nours:      {json.dumps(ours, sort_keys=True)}\nreference: {json.dumps(reference, sort_keys=True)}"


def plugin_hooks(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The plugin hooks of a hooks/list answer, without their hash (our own fingerprint: hooks:run)."""
    return [
        {key: value for key, value in hook.items() if key != "currentHash"}
        for entry in result["data"]
        for hook in entry["hooks"]
        if hook["source"] == "plugin"
    ]


def mcp_servers(result: dict[str, Any]) -> list[tuple[str, Any, list[str], Any]]:
    return sorted((s["name"], s["pluginId"], sorted(s["tools"]), s["toolsError"]) for s in result["data"])


def files_under(directory: Path) -> list[str]:
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*") if ".git" not in path.parts)


def plugin_config(side: Side) -> dict[str, Any]:
    values = tomllib.loads((side.codex_home / "config.toml").read_text())
    return normalized({key: values.get(key) for key in ("marketplaces", "plugins")}, side)


async def both(pair: Pair, method: str, params: dict[str, Any]) -> list[Any]:
    """Each side's answer (its result, or its error's code and message), paths normalized."""

    async def one(side: Side) -> Any:
        substituted = json.loads(
            json.dumps(params).replace("$root", str(side.root)).replace("$codex_home", str(side.codex_home))
        )
        reply = await side.call(method, substituted)
        answer = (
            reply["result"] if "result" in reply else {"error": [reply["error"]["code"], reply["error"]["message"]]}
        )
        return normalized(answer, side)

    return await pair.each(one)


@pytest.mark.compat("skills:system")
@pytest.mark.compat("hooks:run")
@pytest.mark.asyncio(loop_scope="module")
async def test_a_local_marketplace_session_answers_as_the_reference(scenario: Scenario) -> None:
    pair = scenario.pair
    manifest = "$root/scenario/" + str(MANIFEST)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("plugin/list", {}),
        ("marketplace/add", {"source": "$root/scenario"}),
        ("marketplace/add", {"source": "$root/scenario"}),
        ("plugin/list", {"cwds": ["$root/workspace"]}),
        ("plugin/read", {"pluginName": "alpha", "marketplacePath": manifest}),
        ("plugin/read", {"pluginName": "nope", "marketplacePath": manifest}),
        ("plugin/install", {"pluginName": "alpha", "marketplacePath": manifest}),
        ("plugin/install", {"pluginName": "alpha", "marketplacePath": "$root/none.json"}),
        ("plugin/installed", {}),
        ("plugin/installed", {"installSuggestionPluginNames": ["beta"]}),
        ("plugin/read", {"pluginName": "alpha", "marketplacePath": manifest}),
        ("marketplace/add", {"source": "$root/workspace"}),
        ("marketplace/add", {"source": "$root/scenario", "refName": "main"}),
        ("marketplace/upgrade", {"marketplaceName": "localmk"}),
        ("marketplace/remove", {"marketplaceName": "no-such"}),
    ]
    for method, params in steps:
        reference, ours = await both(pair, method, params)
        assert ours == reference, differs(method, params, ours, reference)

    reference, ours = await both(pair, "skills/list", {"cwds": ["$root/workspace"], "forceReload": True})
    assert skills_of_plugins(ours) == skills_of_plugins(reference) != []
    reference, ours = await both(pair, "mcpServerStatus/list", {})
    assert mcp_servers(ours) == mcp_servers(reference) == [("echo", "alpha@localmk", ["add", "broken", "echo"], None)]
    reference, ours = await both(pair, "hooks/list", {"cwds": ["$root/workspace"]})
    assert plugin_hooks(ours) == plugin_hooks(reference) != []

    # Malformed marketplaces: the same ones reported (each server words the parse error its way),
    # the same entries of the others left out.
    hostile = {"cwds": [f"$root/hostile/{name}" for name in ("entries", "junk0", "junk1", "junk2")]}
    reference, ours = await both(pair, "plugin/list", hostile)
    for key in ("marketplaces", "featuredPluginIds"):
        assert ours[key] == reference[key], differs("plugin/list", hostile, ours, reference)
    paths = [[e["marketplacePath"] for e in answer["marketplaceLoadErrors"]] for answer in (reference, ours)]
    assert paths[1] == paths[0] != []

    # The same files and the same config.toml entries on both sides.
    sides = pair.sides
    assert files_under(sides[1].codex_home / "plugins") == files_under(sides[0].codex_home / "plugins")
    assert plugin_config(sides[1]) == plugin_config(sides[0])

    for method, params in [
        ("plugin/uninstall", {"pluginId": "alpha@localmk"}),
        ("plugin/uninstall", {"pluginId": "alpha@localmk"}),
        ("plugin/installed", {}),
        ("marketplace/remove", {"marketplaceName": "localmk"}),
        ("marketplace/remove", {"marketplaceName": "localmk"}),
        ("plugin/list", {}),
    ]:
        reference, ours = await both(pair, method, params)
        assert ours == reference, differs(method, params, ours, reference)
    assert plugin_config(sides[1]) == plugin_config(sides[0])
    reference, ours = await both(pair, "mcpServerStatus/list", {})
    assert mcp_servers(ours) == mcp_servers(reference) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_a_git_marketplace_session_answers_as_the_reference(scenario: Scenario) -> None:
    pair, served, source = scenario.pair, scenario.served, scenario.source
    url = served.url("gitmk")
    manifest = "$codex_home/.tmp/marketplaces/gitmk/" + str(MANIFEST)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("marketplace/add", {"source": url}),
        ("marketplace/add", {"source": url}),
        ("plugin/list", {}),
        ("plugin/install", {"pluginName": "delta", "marketplacePath": manifest}),
        ("marketplace/upgrade", {}),
        ("marketplace/upgrade", {"marketplaceName": "gitmk"}),
        # A plugin whose files come from git when it is installed.
        ("plugin/list", {"cwds": ["$root/urlmk"]}),
        ("plugin/read", {"pluginName": "delta", "marketplacePath": "$root/urlmk/" + str(MANIFEST)}),
        ("plugin/install", {"pluginName": "delta", "marketplacePath": "$root/urlmk/" + str(MANIFEST)}),
        ("plugin/installed", {"cwds": ["$root/urlmk"]}),
        ("plugin/uninstall", {"pluginId": "delta@urlmk"}),
    ]
    for method, params in steps:
        reference, ours = await both(pair, method, params)
        assert ours == reference, differs(method, params, ours, reference)

    (source / "NEWS").write_text("new\n")
    served.publish(source, "gitmk")
    reference, ours = await both(pair, "marketplace/upgrade", {})
    assert ours == reference and ours["upgradedRoots"] == ["<root>/codex-home/.tmp/marketplaces/gitmk"]
    sides = pair.sides
    checkouts = [side.codex_home / ".tmp" / "marketplaces" / "gitmk" for side in sides]
    assert files_under(checkouts[1]) == files_under(checkouts[0])
    metadata = [json.loads((c / ".codex-marketplace-install.json").read_text()) for c in checkouts]
    assert metadata[1] == metadata[0]
    assert plugin_config(sides[1]) == plugin_config(sides[0])

    # A sparse checkout of a marketplace: only the paths asked for, on both sides alike.
    sparse = {"source": served.url("sparsemk"), "sparsePaths": [".agents", "plugins/one"]}
    for method, params in [
        ("marketplace/add", sparse),
        ("marketplace/add", sparse),
        ("marketplace/add", {"source": served.url("sparsemk"), "refName": "main"}),
        ("plugin/list", {}),
        ("marketplace/upgrade", {"marketplaceName": "sparsemk"}),
    ]:
        reference, ours = await both(pair, method, params)
        assert ours == reference, differs(method, params, ours, reference)
    sparse_checkouts = [side.codex_home / ".tmp" / "marketplaces" / "sparsemk" for side in sides]
    assert files_under(sparse_checkouts[1]) == files_under(sparse_checkouts[0])
    assert not (sparse_checkouts[1] / "plugins" / "two").exists()
    assert plugin_config(sides[1]) == plugin_config(sides[0])

    for method, params in [
        ("marketplace/remove", {"marketplaceName": "sparsemk"}),
        ("marketplace/add", {"source": served.url("missing")}),
        ("plugin/uninstall", {"pluginId": "delta@gitmk"}),
        ("marketplace/remove", {"marketplaceName": "gitmk"}),
    ]:
        reference, ours = await both(pair, method, params)
        if "error" in reference:
            # Both fail in git; the staging folder's random name differs.
            assert ours["error"][0] == reference["error"][0], f"{method} {params}: {ours} vs {reference}"
        else:
            assert ours == reference, differs(method, params, ours, reference)
    assert not any(c.exists() for c in checkouts)
