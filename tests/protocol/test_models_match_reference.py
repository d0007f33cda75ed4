"""Our models against the reference's JSON Schema, type by type.

For every type reachable from a registered method, notification or server request (ThreadItem
variants, Thread and Turn included), the wire property names, the required set and the schema
defaults must equal the reference's; union and enum types must have the same members.
The comparison uses our generated schema (``schema_gen.build_schema``), i.e. wire names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from agent_app_server.protocol import METHODS, NOTIFICATIONS, SERVER_REQUESTS
from agent_app_server.protocol.schema_gen import build_schema
from support.schema_check import RESULT_TYPES

#: Objects the reference writes inline (untitled), which we name: where each sits there,
#: as (titled reference schema, property holding the object).
INLINE_IN_REFERENCE: dict[str, list[tuple[str, str]]] = {
    "GranularApprovalConfig": [("GranularAskForApproval", "granular")],
    "HttpStatusDetails": [
        ("HttpConnectionFailedCodexErrorInfo", "httpConnectionFailed"),
        ("ResponseStreamConnectionFailedCodexErrorInfo", "responseStreamConnectionFailed"),
        ("ResponseStreamDisconnectedCodexErrorInfo", "responseStreamDisconnected"),
        ("ResponseTooManyFailedAttemptsCodexErrorInfo", "responseTooManyFailedAttempts"),
    ],
    "ActiveTurnNotSteerableDetails": [("ActiveTurnNotSteerableCodexErrorInfo", "activeTurnNotSteerable")],
    "ThreadSpawnDetails": [("ThreadSpawnSubAgentSource", "thread_spawn")],
    "ExecpolicyAmendment": [
        ("AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision", "acceptWithExecpolicyAmendment")
    ],
    "NetworkPolicyAmendmentChoice": [
        ("ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision", "applyNetworkPolicyAmendment")
    ],
    "OtlpHttpExporterConfig": [("OtlpHttpOtelExporter", "otlp-http")],
    "OtlpGrpcExporterConfig": [("OtlpGrpcOtelExporter", "otlp-grpc")],
}


def _title(schema: dict[str, Any]) -> str:
    """A titled variant's name as a Python class can spell it: the reference titles the variants of
    a few Rust-qualified unions ``ApiKeyv2::LoginAccountParams``; we name that class
    ``ApiKeyLoginAccountParams``."""
    return str(schema["title"]).replace("v2::", "")


#: Properties the reference's stable schema leaves out because they are experimental (present
#: in schema-experimental; gated behind ``capabilities.experimentalApi`` here too).
EXPERIMENTAL_PROPERTIES: dict[str, set[str]] = {"ThreadStartParams": {"dynamicTools"}}

#: Reference definitions that are only names for ``string``; we use ``str`` in their place.
INLINED_STRING_ALIASES = {"AbsolutePathBuf", "LegacyAppPathString", "ThreadId", "AgentPath", "ThreadSource"}

#: Union members of the reference we leave out on purpose, and why.
OMITTED_UNION_MEMBERS: dict[str, tuple[set[str], str]] = {
    "ProviderSettings": (
        {"ref:BedrockProviderSettings", "ref:GcpProviderSettings"},
        "no Bedrock or Google Cloud providers exist here (account:bedrock); every provider is OpenAI's or a gateway",
    ),
    "CodexErrorInfo": (
        {"type:string", "type:object"},
        "the reference's open-ended catch-all for codes it may add later; we only send the listed ones",
    ),
}


@dataclass
class Expected:
    """A reference object type: property names, required names and property schemas."""

    where: str
    properties: dict[str, Any]
    required: set[str]


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    """Own properties plus those of flattened alternatives (``anyOf: [{url}, {fileId}]``)."""
    properties = dict(schema.get("properties", {}))
    if properties:
        for member in schema.get("anyOf", []):
            properties.update(member.get("properties", {}))
    return properties


#: The per-direction message unions: their variants are envelopes, not types we model.
ENVELOPE_UNIONS = {"ClientRequest", "ClientNotification", "ServerNotification", "ServerRequest"}


def _is_object(schema: dict[str, Any]) -> bool:
    return "properties" in schema or (schema.get("type") == "object" and not schema.keys() & {"oneOf", "anyOf"})


def _untitled_tag(member: dict[str, Any]) -> str | None:
    """The discriminator value of an untitled union variant (its one single-valued enum property)."""
    tags = [
        prop["enum"][0]
        for prop in member.get("properties", {}).values()
        if isinstance(prop, dict) and len(prop.get("enum", [])) == 1
    ]
    return str(tags[0]) if len(tags) == 1 else None


def _reference_objects(definitions: dict[str, Any]) -> dict[str, Expected]:
    """Every object type of the reference by title: titled union variants, then definitions.

    A variant inherits the properties its union declares for every member (``ThreadItem``'s
    ``startedAtMs``/``completedAtMs``).
    """
    index: dict[str, Expected] = {}
    for name, schema in definitions.items():
        if name in ENVELOPE_UNIONS:
            continue
        members = schema.get("oneOf") or schema.get("anyOf") or []
        for member in members:
            if member.get("type") == "object" and "title" not in member and (tag := _untitled_tag(member)):
                # The reference leaves a few variants untitled (``GatewayAuth``'s
                # ``environmentVariable``); we name them as it names their siblings.
                member = {**member, "title": tag[:1].upper() + tag[1:] + name}
            if member.get("type") == "object" and "title" in member:
                index[_title(member)] = Expected(
                    f"{name}/{member['title']}",
                    {**schema.get("properties", {}), **_properties(member)},
                    set(schema.get("required", [])) | set(member.get("required", [])),
                )
    for name, schema in definitions.items():
        if name in ENVELOPE_UNIONS:
            continue
        members = schema.get("oneOf") or schema.get("anyOf") or []
        if _is_object(schema):
            index[name] = Expected(name, _properties(schema), set(schema.get("required", [])))
        elif len(members) > 1 and all(m.get("type") == "object" and "title" not in m for m in members):
            # An untagged union of objects (``ResourceContent``: text or blob) that we model as one
            # object: every member's properties, required where every member requires them.
            requireds = [set(member.get("required", [])) for member in members]
            merged = {key: value for member in members for key, value in member.get("properties", {}).items()}
            index.setdefault(name, Expected(name, merged, set.intersection(*requireds)))
        elif len(members) == 1 and "title" in members[0]:
            # A one-variant union (``ImageGenerationFailure``): we model the variant itself.
            index[name] = index[members[0]["title"]]
    return index


def _inline_expected(index: dict[str, Expected], name: str) -> list[Expected]:
    found = []
    for holder, prop in INLINE_IN_REFERENCE[name]:
        schema = index[holder].properties[prop]
        found.append(Expected(f"{holder}.{prop}", _properties(schema), set(schema.get("required", []))))
    return found


def _signature(schema: dict[str, Any], name: str = "") -> set[str]:
    """Members of a union or enum: literal values, referenced/titled types, primitive types."""
    members = schema.get("oneOf") or schema.get("anyOf") or [schema]
    signature: set[str] = set()
    for member in members:
        if member.get("type") == "object" and "title" not in member and (tag := _untitled_tag(member)):
            signature.add("ref:" + tag[:1].upper() + tag[1:] + name)
        elif "$ref" in member:
            signature.add("ref:" + member["$ref"].rsplit("/", 1)[-1])
        elif "title" in member and member.get("type") == "object":
            signature.add("ref:" + _title(member))
        elif "enum" in member:
            signature |= {f"value:{value}" for value in member["enum"]}
        elif "const" in member:
            signature.add(f"value:{member['const']}")
        else:
            kinds = member.get("type", [])
            signature |= {f"type:{kind}" for kind in (kinds if isinstance(kinds, list) else [kinds])}
    return signature


#: Keywords that constrain a value; a schema without any of them accepts any JSON, null included.
_CONSTRAINING = {"type", "anyOf", "oneOf", "allOf", "$ref", "enum", "const"}
NO_DEFAULT = object()


def _allows_null(schema: Any) -> bool:
    if schema is True or not schema.keys() & _CONSTRAINING:
        return True
    kinds = schema.get("type", [])
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_allows_null(member) for member in schema.get("anyOf", []) + schema.get("oneOf", []))


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return build_schema(experimental=True).definitions


@pytest.fixture(scope="module")
def reference_definitions(reference: Any, reference_experimental: Any) -> dict[str, Any]:
    """The stable schema's types, plus the experimental schema's for types only it has (those of
    experimental methods): a stable type is compared with its stable shape."""
    return {**reference_experimental.definitions, **reference.definitions}


@pytest.fixture(scope="module")
def reference_index(reference_definitions: dict[str, Any]) -> dict[str, Expected]:
    return _reference_objects(reference_definitions)


def _object_types(ours: dict[str, Any]) -> Iterator[str]:
    return (name for name, schema in ours.items() if _is_object(schema))


def _expected_for(name: str, reference_index: dict[str, Expected]) -> list[Expected]:
    if name in INLINE_IN_REFERENCE:
        return _inline_expected(reference_index, name)
    assert name in reference_index, f"{name} has no counterpart in the reference schema"
    return [reference_index[name]]


def test_object_types_have_the_reference_properties(ours: dict[str, Any], reference_index: dict[str, Expected]) -> None:
    mismatches = []
    for name in _object_types(ours):
        properties = _properties(ours[name])
        for expected in _expected_for(name, reference_index):
            missing = set(expected.properties) - set(properties)
            extra = set(properties) - set(expected.properties) - EXPERIMENTAL_PROPERTIES.get(name, set())
            if missing or extra:
                mismatches.append(f"{name} vs {expected.where}: missing {sorted(missing)}, extra {sorted(extra)}")
    assert not mismatches, "\n".join(mismatches)


def test_object_types_have_the_reference_required_sets(
    ours: dict[str, Any], reference_index: dict[str, Expected]
) -> None:
    mismatches = []
    for name in _object_types(ours):
        required = set(ours[name].get("required", []))
        for expected in _expected_for(name, reference_index):
            if required != expected.required:
                mismatches.append(
                    f"{name} vs {expected.where}: required {sorted(required)}, reference {sorted(expected.required)}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_optional_properties_default_as_the_reference_says(
    ours: dict[str, Any], reference_index: dict[str, Expected]
) -> None:
    """Schema defaults are ours too; an optional property the reference never lets be null
    must default to a value, since responses are sent with every field."""
    problems = []
    for name in _object_types(ours):
        properties = _properties(ours[name])
        for expected in _expected_for(name, reference_index):
            for prop, ref_prop in expected.properties.items():
                if prop not in properties:
                    continue  # reported by test_object_types_have_the_reference_properties
                default = properties[prop].get("default", NO_DEFAULT)
                if isinstance(ref_prop, dict) and "default" in ref_prop:
                    if default != ref_prop["default"]:
                        problems.append(f"{name}.{prop}: default {default!r} != {ref_prop['default']!r}")
                elif default is None and not _allows_null(ref_prop):
                    problems.append(f"{name}.{prop}: would be sent as null, which the reference does not allow")
    assert not problems, "\n".join(problems)


def test_unions_and_enums_have_the_reference_members(
    ours: dict[str, Any], reference_definitions: dict[str, Any]
) -> None:
    mismatches = []
    for name, schema in ours.items():
        if _is_object(schema):
            continue
        assert name in reference_definitions, f"{name} has no counterpart in the reference schema"
        expected = _signature(reference_definitions[name], name)
        omitted, _reason = OMITTED_UNION_MEMBERS.get(name, (set(), ""))
        assert omitted <= expected, f"{name}: allowlisted members {sorted(omitted - expected)} are not in the reference"
        if _signature(schema) != expected - omitted:
            mismatches.append(f"{name}: ours {sorted(_signature(schema))}, reference {sorted(expected - omitted)}")
    assert not mismatches, "\n".join(mismatches)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _reachable(definitions: dict[str, Any], roots: list[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(definitions[name]))
    return seen


def test_every_reference_type_we_reach_is_modelled(ours: dict[str, Any], reference_definitions: dict[str, Any]) -> None:
    roots = build_schema(experimental=True).roots
    reachable = _reachable(reference_definitions, roots)
    assert reachable - set(ours) == INLINED_STRING_ALIASES


def test_every_type_we_define_exists_in_the_reference(
    ours: dict[str, Any], reference_definitions: dict[str, Any], reference_index: dict[str, Expected]
) -> None:
    known = set(reference_definitions) | set(reference_index) | set(INLINE_IN_REFERENCE)
    assert set(ours) - known == set()


# ---------------------------------------------------------------------- registry vs the unions


def _ref_name(params: dict[str, Any] | None) -> str | None:
    if params is None:
        return None
    refs = list(_refs(params))
    return refs[0] if refs else None


def _nullable(params: dict[str, Any] | None) -> bool:
    return params is None or _allows_null(params)


def test_methods_match_the_reference_client_requests(reference: Any, reference_experimental: Any) -> None:
    stable = reference.union_params("ClientRequest.json")
    experimental = reference_experimental.union_params("ClientRequest.json")
    for name, spec in METHODS.items():
        assert name in experimental, f"the reference has no method {name}"
        assert spec.experimental == (name not in stable), name
        params = experimental[name]
        assert _ref_name(params) == (spec.params.__name__ if spec.params is not None else None), name
        assert spec.params_optional == _nullable(params), name
        expected_result = RESULT_TYPES.get(name) or spec.params.__name__.removesuffix("Params") + "Response"  # type: ignore[union-attr]
        assert spec.result.__name__ == expected_result, name
        assert spec.result.__name__ in reference_experimental.definitions, name


def test_notifications_match_the_reference(reference: Any, reference_experimental: Any) -> None:
    stable = reference.union_params("ServerNotification.json")
    experimental = reference_experimental.union_params("ServerNotification.json")
    for name, spec in NOTIFICATIONS.items():
        assert name in experimental, f"the reference has no notification {name}"
        assert spec.experimental == (name not in stable), name
        assert _ref_name(experimental[name]) == spec.params.__name__, name


def test_server_requests_match_the_reference(reference: Any, reference_experimental: Any) -> None:
    stable = reference.union_params("ServerRequest.json")
    experimental = reference_experimental.union_params("ServerRequest.json")
    for name, spec in SERVER_REQUESTS.items():
        assert name in experimental, f"the reference has no server request {name}"
        assert spec.experimental == (name not in stable), name
        assert _ref_name(experimental[name]) == spec.params.__name__, name
        assert spec.result.__name__ == spec.params.__name__.removesuffix("Params") + "Response", name
        assert spec.result.__name__ in reference.definitions, name
