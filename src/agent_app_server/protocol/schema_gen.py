"""JSON Schema and TypeScript for the protocol, generated from the registry.

Owns: the layout of ``generate-json-schema`` and ``generate-ts`` output, modelled on the
reference's: one JSON file per registered params/result type, the per-direction unions
(``ClientRequest``, ``ServerNotification``, ``ServerRequest``) and a bundle with every type under
``definitions``; and one ``.ts`` file per type plus ``index.ts``. Not imported by the server.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from . import registry
from .common import RequestId

BUNDLE_NAME = "agent_app_server_protocol.schemas.json"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_REF_PREFIX = "#/definitions/"

JsonObject = dict[str, Any]
#: The params of a method that takes none, as the reference describes them.
_NO_PARAMS: JsonObject = {"type": "null"}


class _WireSchemaGenerator(GenerateJsonSchema):
    """Pydantic's generator, minus the per-property titles the reference does not have."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True)
class ProtocolSchema:
    """Every type of one API surface (stable or experimental) as JSON Schema."""

    definitions: dict[str, JsonObject]
    #: Names of the registered params/result types, each written to its own file.
    roots: list[str]
    unions: dict[str, JsonObject]


def build_schema(experimental: bool) -> ProtocolSchema:
    """The schema of every registered type (experimental ones only if ``experimental``)."""
    # Incoming types are described as we validate them, outgoing ones as we serialize them.
    types: list[tuple[type[Any], JsonSchemaMode]] = []
    methods = [spec for spec in registry.METHODS.values() if experimental or not spec.experimental]
    notifications = [spec for spec in registry.NOTIFICATIONS.values() if experimental or not spec.experimental]
    server_requests = [spec for spec in registry.SERVER_REQUESTS.values() if experimental or not spec.experimental]
    for method in methods:
        if method.params is not None:
            types.append((method.params, "validation"))
        types.append((method.result, "serialization"))
    types += [(notification.params, "serialization") for notification in notifications]
    for request in server_requests:
        types += [(request.params, "serialization"), (request.result, "validation")]

    request_id: tuple[Any, JsonSchemaMode] = (RequestId, "validation")
    inputs = [(key, key[1], TypeAdapter(key[0]).core_schema) for key in [*types, request_id]]
    generator = _WireSchemaGenerator(by_alias=True, ref_template=_REF_PREFIX + "{model}")
    refs, definitions = generator.generate_definitions(inputs)
    for schema in definitions.values():
        _require_tags(schema)

    def ref(tp: type[Any], mode: JsonSchemaMode) -> JsonObject:
        return dict(refs[((tp, mode), mode)])

    unions: dict[str, JsonObject] = {
        "ClientRequest": {
            "description": "Request from the client to the server.",
            "oneOf": [
                _message_variant(
                    spec.method,
                    "Request",
                    ref(spec.params, "validation") if spec.params is not None else _NO_PARAMS,
                    request_id=ref(*request_id),
                    optional=spec.params_optional,
                )
                for spec in methods
            ],
        },
        "ServerNotification": {
            "description": "Notification sent from the server to the client.",
            "oneOf": [
                _message_variant(spec.method, "Notification", ref(spec.params, "serialization"))
                for spec in notifications
            ],
            "properties": {
                "emittedAtMs": {
                    "description": "Unix timestamp (in milliseconds) when the server emitted this notification.",
                    "type": "integer",
                }
            },
        },
        "ServerRequest": {
            "description": "Request initiated from the server and sent to the client.",
            "oneOf": [
                _message_variant(spec.method, "Request", ref(spec.params, "serialization"), request_id=ref(*request_id))
                for spec in server_requests
            ],
        },
    }
    roots = list(dict.fromkeys(ref(tp, mode)["$ref"].removeprefix(_REF_PREFIX) for tp, mode in types))
    return ProtocolSchema(dict(sorted(definitions.items())), roots, unions)


def _require_tags(schema: JsonObject) -> None:
    """Mark union tags required: always sent, they default in Python only to spare callers."""
    properties = schema.get("properties", {})
    tags = [name for name, prop in properties.items() if "const" in prop and prop.get("default") == prop["const"]]
    if tags:
        required = schema.setdefault("required", [])
        required[:0] = [name for name in tags if name not in required]


def _message_variant(
    method: str, kind: str, params: JsonObject, *, request_id: JsonObject | None = None, optional: bool = False
) -> JsonObject:
    """One member of a per-direction union, shaped and titled like the reference's."""
    title = method[:1].upper() + method[1:] + kind
    properties: JsonObject = {}
    if request_id is not None:
        properties["id"] = request_id
    properties["method"] = {"enum": [method], "title": f"{title}Method", "type": "string"}
    if optional and params != _NO_PARAMS:
        params = {"anyOf": [params, {"type": "null"}]}
    properties["params"] = params
    required = [name for name in properties if not (optional and name == "params")]
    return {"properties": properties, "required": required, "title": title, "type": "object"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                yield value[len(_REF_PREFIX) :]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(definitions: dict[str, JsonObject], start: JsonObject) -> list[str]:
    seen: set[str] = set()
    pending = list(_refs(start))
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(definitions[name]))
    return sorted(seen)


def _standalone(name: str, schema: JsonObject, definitions: dict[str, JsonObject]) -> JsonObject:
    """A self-contained document: the type itself plus the definitions it refers to."""
    document: JsonObject = {"$schema": DRAFT_07, **schema, "title": name}
    used = _reachable(definitions, schema)
    if used:
        document["definitions"] = {ref: definitions[ref] for ref in used}
    return document


def _write_json(path: Path, document: JsonObject) -> Path:
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def generate_json_schema(out_dir: Path, experimental: bool) -> list[Path]:
    """Write the protocol's JSON Schema (draft-07) into ``out_dir``; returns the files written."""
    protocol = build_schema(experimental)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write_json(out_dir / f"{name}.json", _standalone(name, protocol.definitions[name], protocol.definitions))
        for name in protocol.roots
    ]
    written += [
        _write_json(out_dir / f"{name}.json", _standalone(name, union, protocol.definitions))
        for name, union in protocol.unions.items()
    ]
    bundle = {
        "$schema": DRAFT_07,
        "title": "AgentAppServerProtocol",
        "type": "object",
        "definitions": {**protocol.definitions, **protocol.unions},
    }
    written.append(_write_json(out_dir / BUNDLE_NAME, bundle))
    return written


# ---------------------------------------------------------------------- TypeScript

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_TS_HEADER = "// Generated by agent-app-server from its protocol models. Do not edit.\n"


def _ts_union(members: Iterable[str]) -> str:
    unique = list(dict.fromkeys(members))
    return " | ".join(unique) if unique else "never"


def _ts_object(schema: JsonObject, refs: set[str]) -> str:
    properties: JsonObject = schema.get("properties", {})
    required = set(schema.get("required", []))
    extra = schema.get("additionalProperties")
    if not properties:
        if isinstance(extra, dict):
            return f"{{ [key: string]: {_ts_type(extra, refs)} }}"
        return "{ [key: string]: unknown }" if extra is True else "Record<string, never>"
    fields = []
    for name, prop in properties.items():
        key = name if _IDENTIFIER.match(name) else json.dumps(name)
        optional = "" if name in required else "?"
        fields.append(f"{key}{optional}: {_ts_type(prop, refs)}")
    return "{ " + "; ".join(fields) + " }"


def _ts_type(schema: Any, refs: set[str]) -> str:
    """The TypeScript for one JSON Schema node; names it refers to are added to ``refs``."""
    if schema is True or schema == {}:
        return "unknown"
    if not isinstance(schema, dict):
        return "never"
    if "$ref" in schema:
        name = str(schema["$ref"])[len(_REF_PREFIX) :]
        refs.add(name)
        return name
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return _ts_union(json.dumps(value) for value in schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            union = _ts_union(_ts_type(member, refs) for member in schema[key])
            if "properties" not in schema:
                return union
            # Properties next to a union apply to every member (e.g. ``emittedAtMs``).
            return f"{_ts_object(schema, refs)} & ({union})"
    if "allOf" in schema:
        return " & ".join(f"({_ts_type(member, refs)})" for member in schema["allOf"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _ts_union(_ts_type({**schema, "type": one}, refs) for one in kind)
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        return f"Array<{_ts_type(schema.get('items', True), refs)}>"
    if kind == "object" or "properties" in schema:
        return _ts_object(schema, refs)
    return "unknown"


def _ts_module(name: str, schema: JsonObject) -> str:
    refs: set[str] = set()
    body = _ts_type(schema, refs)
    imports = "".join(f'import type {{ {ref} }} from "./{ref}";\n' for ref in sorted(refs - {name}))
    return _TS_HEADER + imports + ("\n" if imports else "") + f"export type {name} = {body};\n"


def generate_typescript(out_dir: Path, experimental: bool) -> list[Path]:
    """Write one ``<Type>.ts`` per protocol type plus ``index.ts``; returns the files written."""
    protocol = build_schema(experimental)
    out_dir.mkdir(parents=True, exist_ok=True)
    types = {**protocol.definitions, **protocol.unions}
    written = []
    for name, schema in types.items():
        path = out_dir / f"{name}.ts"
        path.write_text(_ts_module(name, schema), encoding="utf-8")
        written.append(path)
    index = out_dir / "index.ts"
    exports = "".join(f'export type {{ {name} }} from "./{name}";\n' for name in types)
    index.write_text(_TS_HEADER + exports, encoding="utf-8")
    written.append(index)
    return written
