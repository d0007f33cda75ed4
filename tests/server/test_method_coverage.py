"""Every client method of the pinned reference schema, sent to the real server: the ones we
implement are served, the ones we deliberately do not offer answer -32601 with the reason that
docs/compatibility.md gives, and the rest answer -32601 saying they are not implemented.

The counts are printed (``pytest -s``) so coverage of the protocol can be followed over time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent_app_server.protocol.not_offered import NOT_OFFERED
from agent_app_server.protocol.registry import EXPERIMENTAL_METHODS, METHOD_TABLE
from support.reference import REFERENCE_DIR, REPO_ROOT
from support.server_process import Spawn


def _schema_methods(flavor: str) -> list[str]:
    document = json.loads((REFERENCE_DIR / flavor / "ClientRequest.json").read_text())
    return [variant["properties"]["method"]["enum"][0] for variant in document["oneOf"]]


STABLE = _schema_methods("schema")
EXPERIMENTAL_ONLY = [method for method in _schema_methods("schema-experimental") if method not in STABLE]


def _documented_not_offered() -> dict[str, str]:
    """The `not-offered` table of docs/compatibility.md: method → reason."""
    text = (REPO_ROOT / "docs" / "compatibility.md").read_text()
    section = text.split("## Methods this server does not offer", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            for method in re.findall(r"`([^`]+)`", cells[0]):
                table[method] = cells[1]
    return table


def test_not_offered_table_is_documented_word_for_word() -> None:
    assert _documented_not_offered() == NOT_OFFERED


def test_every_schema_method_is_known_and_nothing_is_both_implemented_and_not_offered() -> None:
    schema = set(STABLE) | set(EXPERIMENTAL_ONLY)
    assert not set(NOT_OFFERED) - schema, "not-offered methods the schema does not have"
    assert not set(NOT_OFFERED) & set(METHOD_TABLE)
    assert not set(METHOD_TABLE) - schema - {"initialize"}, "implemented methods the schema does not have"
    assert set(EXPERIMENTAL_METHODS) <= set(EXPERIMENTAL_ONLY)


@pytest.mark.compat("methods:not-offered")
async def test_every_schema_method_answers_as_its_list_says(spawn: Spawn, codex_home: Path) -> None:
    server = await spawn()
    await server.initialize(experimental=True)
    counts = {"implemented": 0, "not offered": 0, "not implemented yet": 0}
    for method in [*STABLE, *EXPERIMENTAL_ONLY]:
        if method == "initialize":
            continue
        response = await server.call(method, {})
        error = response.get("error")
        if method in METHOD_TABLE:
            # Served: a result, or an error about the (empty) params — never "method not found".
            assert error is None or error["code"] != -32601, (method, error)
            counts["implemented"] += 1
        elif method in NOT_OFFERED:
            assert error == {
                "code": -32601,
                "message": f"Method not found: `{method}` is not offered by this server: {NOT_OFFERED[method]}",
            }
            counts["not offered"] += 1
        else:
            assert error == {
                "code": -32601,
                "message": f"Method not found: `{method}` is not implemented by this server",
            }
            counts["not implemented yet"] += 1
    stable_implemented = sum(1 for method in STABLE if method in METHOD_TABLE)
    print(
        f"\n{len(STABLE)} stable + {len(EXPERIMENTAL_ONLY)} experimental client methods: {counts}; "
        f"stable implemented: {stable_implemented} of {len(STABLE)}"
    )
    assert server.running
