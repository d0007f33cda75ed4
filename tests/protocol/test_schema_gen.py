"""``schema_gen``: the JSON Schema and TypeScript we write, for stable and experimental APIs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from protocol_samples import CLIENT_PARAMS, methods, notifications, server_requests

from agent_app_server.protocol import METHODS, NOTIFICATIONS, SERVER_REQUESTS
from agent_app_server.protocol.schema_gen import BUNDLE_NAME, generate_json_schema, generate_typescript

UNIONS = ("ClientRequest", "ServerNotification", "ServerRequest")


@pytest.fixture(scope="module")
def json_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("json")
    generate_json_schema(out, experimental=False)
    return out


@pytest.fixture(scope="module")
def json_dir_experimental(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("json-experimental")
    generate_json_schema(out, experimental=True)
    return out


def _load(folder: Path, name: str) -> Any:
    return json.loads((folder / f"{name}.json").read_text())


def _registered_type_names() -> set[str]:
    """The params and result types of the stable API."""
    names = {spec.params.__name__ for spec in NOTIFICATIONS.values() if not spec.experimental}
    for spec in [*METHODS.values(), *SERVER_REQUESTS.values()]:
        if spec.experimental:
            continue
        names.add(spec.result.__name__)
        if spec.params is not None:
            names.add(spec.params.__name__)
    return names


def test_json_schema_files(tmp_path: Path) -> None:
    written = generate_json_schema(tmp_path, experimental=False)
    assert all(path.parent == tmp_path and path.suffix == ".json" for path in written)
    assert {path.stem for path in written} == _registered_type_names() | set(UNIONS) | {Path(BUNDLE_NAME).stem}
    for path in written:
        document = json.loads(path.read_text())
        Draft7Validator.check_schema(document)
        assert document["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_bundle_has_every_type_and_the_unions_by_method(json_dir: Path) -> None:
    definitions = json.loads((json_dir / BUNDLE_NAME).read_text())["definitions"]
    assert _registered_type_names() | set(UNIONS) <= set(definitions)
    assert {"Thread", "Turn", "ThreadItem", "UserInput", "AskForApproval", "RequestId"} <= set(definitions)
    by_union = {name: [v["properties"]["method"]["enum"][0] for v in definitions[name]["oneOf"]] for name in UNIONS}
    assert by_union == {
        "ClientRequest": [name for name, spec in METHODS.items() if not spec.experimental],
        "ServerNotification": [name for name, spec in NOTIFICATIONS.items() if not spec.experimental],
        "ServerRequest": [name for name, spec in SERVER_REQUESTS.items() if not spec.experimental],
    }
    refs = re.findall(r'"\$ref": "#/definitions/([^"]+)"', json.dumps(definitions))
    assert set(refs) <= set(definitions)


@pytest.mark.parametrize(("method", "params"), CLIENT_PARAMS.items(), ids=str)
def test_params_schemas_accept_real_params(
    json_dir: Path, json_dir_experimental: Path, method: str, params: dict[str, Any] | None
) -> None:
    if METHODS[method].experimental:
        json_dir = json_dir_experimental
    model = METHODS[method].params
    if model is not None and params is not None:
        Draft7Validator(_load(json_dir, model.__name__)).validate(params)
    request = {"id": 7, "method": method} if params is None else {"id": 7, "method": method, "params": params}
    Draft7Validator(_load(json_dir, "ClientRequest")).validate(request)


def test_params_schemas_reject_bad_params(json_dir: Path) -> None:
    read = Draft7Validator(_load(json_dir, "ThreadReadParams"))
    assert read.is_valid({"threadId": "x"})
    assert not read.is_valid({})
    assert not read.is_valid({"threadId": 5})
    start = Draft7Validator(_load(json_dir, "ThreadStartParams"))
    assert not start.is_valid({"approvalPolicy": "sometimes"})
    turn = Draft7Validator(_load(json_dir, "TurnStartParams"))
    assert not turn.is_valid({"threadId": "t", "input": [{"type": "image"}]}), "an image needs url or fileId"


def test_schemas_accept_what_we_send(json_dir: Path, json_dir_experimental: Path) -> None:
    notification_schema = Draft7Validator(_load(json_dir, "ServerNotification"))
    for method, params in notifications().items():
        notification_schema.validate({"method": method, "params": params.to_wire(), "emittedAtMs": 1})
    request_schema = Draft7Validator(_load(json_dir, "ServerRequest"))
    for method, (params, result) in server_requests().items():
        request_schema.validate({"id": 0, "method": method, "params": params.to_wire()})
        Draft7Validator(_load(json_dir, type(result).__name__)).validate(result.to_wire())
    for method, (_params, result) in methods().items():
        folder = json_dir_experimental if METHODS[method].experimental else json_dir
        Draft7Validator(_load(folder, type(result).__name__)).validate(result.to_wire())


def test_typescript_files(tmp_path: Path) -> None:
    written = generate_typescript(tmp_path, experimental=False)
    names = {path.stem for path in written}
    assert _registered_type_names() | set(UNIONS) | {"index", "Thread", "ThreadItem"} <= names
    for path in written:
        text = path.read_text()
        assert text.strip()
        for imported in re.findall(r'from "\./([^"]+)"', text):
            assert (tmp_path / f"{imported}.ts").exists(), f"{path.name} imports missing {imported}"
        if path.stem != "index":
            assert f"export type {path.stem} = " in text
    index = (tmp_path / "index.ts").read_text()
    assert all(f'export type {{ {name} }} from "./{name}";' in index for name in names - {"index"})


def test_typescript_shapes(tmp_path: Path) -> None:
    generate_typescript(tmp_path, experimental=False)

    def body(name: str) -> str:
        return (tmp_path / f"{name}.ts").read_text().split(" = ", 1)[1].strip()

    assert body("SandboxMode") == '"read-only" | "workspace-write" | "danger-full-access";'
    assert body("ThreadReadParams") == "{ threadId: string; includeTurns?: boolean };"
    assert "projectId: string | null;" in body("Thread")
    assert "turns: Array<Turn>;" in body("Thread")
    assert body("ThreadArchiveResponse") == "Record<string, never>;"
    assert body("ImageUserInput").endswith("& ({ url: string } | { fileId: string });")
    assert 'import type { Turn } from "./Turn";' in (tmp_path / "Thread.ts").read_text()


@pytest.mark.parametrize("generate", [generate_json_schema, generate_typescript])
def test_experimental_methods_only_in_experimental_output(tmp_path: Path, generate: Any) -> None:
    stable = {path.name: path.read_text() for path in generate(tmp_path / "stable", False)}
    experimental = {path.name: path.read_text() for path in generate(tmp_path / "experimental", True)}
    gated = [spec for spec in METHODS.values() if spec.experimental]
    assert gated, "the registry has experimental methods (e.g. mock/experimentalMethod)"
    new_files = {name.split(".")[0] for name in set(experimental) - set(stable)}
    expected = {spec.params.__name__ for spec in gated if spec.params is not None} | {
        spec.result.__name__ for spec in gated
    }
    assert expected <= new_files
    union = next(name for name in stable if name.startswith("ClientRequest."))
    for spec in gated:
        assert f'"{spec.method}"' not in stable[union]
        assert f'"{spec.method}"' in experimental[union]
