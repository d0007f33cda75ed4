"""Fixtures for the protocol tests: the reference's generated JSON Schema, loaded once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from support.reference import REFERENCE_DIR

V2_BUNDLE = "codex_app_server_protocol.v2.schemas.json"
TOP_BUNDLE = "codex_app_server_protocol.schemas.json"


@dataclass
class Reference:
    """One flavour (``schema`` or ``schema-experimental``) of the reference's JSON Schema."""

    folder: Path
    _documents: dict[str, Any] = field(default_factory=dict)

    def document(self, name: str) -> Any:
        if name not in self._documents:
            self._documents[name] = json.loads((self.folder / name).read_text())
        return self._documents[name]

    @cached_property
    def definitions(self) -> dict[str, Any]:
        """Every named type: the v2 bundle, the server-request types and the v1 handshake."""
        merged = dict(self.document(V2_BUNDLE)["definitions"])
        for name, schema in self.document(TOP_BUNDLE)["definitions"].items():
            merged.setdefault(name, schema)
        for name in ("InitializeParams", "InitializeResponse"):
            document = dict(self.document(f"v1/{name}.json"))
            for inner, schema in document.pop("definitions", {}).items():
                merged.setdefault(inner, schema)
            merged[name] = document
        return merged

    def union_params(self, union: str) -> dict[str, Any]:
        """Method name → the ``params`` schema of that method in a per-direction union."""
        return {
            variant["properties"]["method"]["enum"][0]: variant["properties"].get("params")
            for variant in self.document(union)["oneOf"]
        }

    def validator(self, document: str, definition: str | None = None) -> Draft7Validator:
        return _validator(self.folder, document, definition)

    def errors(self, instance: Any, document: str, definition: str | None = None) -> list[str]:
        """Schema violations of ``instance`` against a document (or one of its definitions)."""
        return [
            f"{error.message} at {list(error.absolute_path)}"
            for error in self.validator(document, definition).iter_errors(instance)
        ]

    def type_errors(self, instance: Any, name: str) -> list[str]:
        """Schema violations of ``instance`` against the v2 bundle's definition ``name`` (or, for
        the few types the reference leaves out of that bundle, such as ``FuzzyFileSearchResponse``,
        against their own ``<name>.json``)."""
        if name not in self.document(V2_BUNDLE)["definitions"]:
            return self.errors(instance, f"{name}.json")
        return self.errors(instance, V2_BUNDLE, name)


@cache
def _validator(folder: Path, document: str, definition: str | None) -> Draft7Validator:
    schema = json.loads((folder / document).read_text())
    if definition is not None:
        schema = {"$ref": f"#/definitions/{definition}", "definitions": schema["definitions"]}
    return Draft7Validator(schema)


@pytest.fixture(scope="session")
def reference() -> Reference:
    return Reference(REFERENCE_DIR / "schema")


@pytest.fixture(scope="session")
def reference_experimental() -> Reference:
    return Reference(REFERENCE_DIR / "schema-experimental")
