"""Validates every message our server sends against the reference's generated JSON Schema.

Deliberate deviations (docs/compatibility.md) are the only exceptions, and each is named here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft7Validator

from .reference import REFERENCE_DIR

if not (REFERENCE_DIR / "schema").is_dir():
    raise RuntimeError(
        f"the reference schema is not at {REFERENCE_DIR}; regenerate it with `python scripts/reference.py schema`"
    )


@cache
def _load(flavor: str, name: str) -> dict[str, Any]:
    folder = "schema-experimental" if flavor == "experimental" else "schema"
    return json.loads((REFERENCE_DIR / folder / name).read_text())


@cache
def _validator(flavor: str, document: str, definition: str | None) -> Draft7Validator:
    schema = _load(flavor, document)
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    return Draft7Validator(schema)


@cache
def _variant_params(flavor: str, document: str) -> dict[str, Any]:
    """method → the params schema of that variant of a per-direction union."""
    out = {}
    for variant in _load(flavor, document)["oneOf"]:
        out[variant["properties"]["method"]["enum"][0]] = variant["properties"].get("params", {})
    return out


@cache
def _method_validator(flavor: str, document: str, method: str) -> Draft7Validator | None:
    # Validating against the one variant for this method is equivalent to the whole oneOf (methods
    # are unique) and orders of magnitude cheaper than trying all of them.
    params = _variant_params(flavor, document).get(method)
    if params is None:
        return None
    schema = {
        "type": "object",
        "properties": {"method": {"const": method}, "params": params},
        "required": ["method", "params"] if document != "ServerRequest.json" else ["id", "method", "params"],
        "definitions": _load(flavor, document)["definitions"],
    }
    return Draft7Validator(schema)


#: Methods whose result type is not named after their params type (or that take no params), as
#: the reference's own method table pairs them.
RESULT_TYPES = {
    "config/value/write": "ConfigWriteResponse",
    "config/batchWrite": "ConfigWriteResponse",
    "account/logout": "LogoutAccountResponse",
    "configRequirements/read": "ConfigRequirementsReadResponse",
    "config/mcpServer/reload": "McpServerRefreshResponse",
    "externalAgentConfig/import/readHistories": "ExternalAgentConfigImportHistoriesReadResponse",
}


@cache
def response_definition(flavor: str, method: str) -> tuple[str, str | None]:
    """Where the result type of ``method`` lives: (document, definition)."""
    if method == "initialize":
        return "v1/InitializeResponse.json", None
    if method in RESULT_TYPES:
        return "codex_app_server_protocol.v2.schemas.json", RESULT_TYPES[method]
    for variant in _load(flavor, "ClientRequest.json")["oneOf"]:
        if variant["properties"]["method"]["enum"][0] == method:
            params = variant["properties"].get("params", {})
            ref = params.get("$ref") or next((alt["$ref"] for alt in params.get("anyOf", []) if "$ref" in alt), None)
            if ref is None:
                break
            name = ref.rsplit("/", 1)[-1].removesuffix("Params") + "Response"
            if name not in _load(flavor, "codex_app_server_protocol.v2.schemas.json")["definitions"]:
                # A few result types (FuzzyFileSearchResponse) are only in their own document.
                return f"{name}.json", None
            return "codex_app_server_protocol.v2.schemas.json", name
    raise KeyError(f"the reference has no method {method!r}")


@dataclass
class SchemaChecker:
    """Collects schema violations of one connection's server→client traffic."""

    experimental: bool = False
    violations: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def flavor(self) -> str:
        return "experimental" if self.experimental else "stable"

    def check(self, message: dict[str, Any], request_method: str | None) -> None:
        self.checked += 1
        errors: list[str] = []
        if "method" in message and "id" in message:
            errors = self._method_errors("ServerRequest.json", message)
        elif "method" in message:
            if not isinstance(message.get("emittedAtMs"), int):
                errors.append("notification without an integer top-level emittedAtMs")
            body = {"method": message["method"], "params": message.get("params")}
            errors += self._method_errors("ServerNotification.json", body)
        elif "error" in message:
            if message.get("id") is None:
                # Deviation `rpc:error-id-null`: errors for messages without a usable id
                # (malformed JSON, invalid ids) are answered with id null per JSON-RPC 2.0; the
                # reference does not answer them at all.
                errors = self._errors("JSONRPCError.json", None, {**message, "id": 0})
            else:
                errors = self._errors("JSONRPCError.json", None, message)
        elif "result" in message:
            if request_method is None:
                errors = ["response to an id this client never used"]
            else:
                document, definition = response_definition(self.flavor, request_method)
                errors = self._errors(document, definition, message["result"])
        else:
            errors = ["message is neither request, notification nor response"]
        for error in errors:
            self.violations.append(f"{error}\n  in: {json.dumps(message)[:600]}")

    def _method_errors(self, document: str, message: dict[str, Any]) -> list[str]:
        validator = _method_validator(self.flavor, document, str(message.get("method")))
        if validator is None:
            return [f"{document}: the reference has no method {message.get('method')!r}"]
        return [f"{document}: {e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(message)][:3]

    def _errors(self, document: str, definition: str | None, instance: Any) -> list[str]:
        validator = _validator(self.flavor, document, definition)
        return [
            f"{document}{'#' + definition if definition else ''}: {e.message} at {list(e.absolute_path)}"
            for e in validator.iter_errors(instance)
        ][:3]
