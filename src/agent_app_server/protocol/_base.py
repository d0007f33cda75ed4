"""The base of every wire model: snake_case attributes, camelCase on the wire.

Owns: serialization conventions shared by all protocol types. Imports nothing from this project.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A message body as the reference spells it.

    Unknown fields are ignored (the reference does the same, and clients newer than us send them).
    Models build their validators on first use (``defer_build``) so that importing the protocol
    costs little at start-up.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        defer_build=True,
        strict=True,
        serialize_by_alias=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict sent on the wire: aliases, and every field (nulls included)."""
        return self.model_dump(mode="json", by_alias=True)


class SnakeWireModel(WireModel):
    """For the few reference types whose fields stay snake_case on the wire (e.g. ``text_elements``)."""

    model_config = ConfigDict(alias_generator=None)


class ExperimentalNotEnabled(Exception):
    """Raised while validating params that use an experimental method, field or value on a
    connection that did not opt in with ``capabilities.experimentalApi``."""

    def __init__(self, descriptor: str) -> None:
        super().__init__(f"{descriptor} requires experimentalApi capability")
        self.descriptor = descriptor


#: Key in the pydantic validation context that says whether the connection opted in.
EXPERIMENTAL_CONTEXT_KEY = "experimental_api"


def experimental_gate(descriptor: str) -> Any:
    """An ``AfterValidator`` for a field or variant that only opted-in connections may use.

    ``Annotated[Granular, experimental_gate("askForApproval.granular")]`` rejects the value
    unless params were validated with ``context={EXPERIMENTAL_CONTEXT_KEY: True}``. Validation
    without a context (the server building its own replies) is never gated.
    """
    from pydantic import AfterValidator, ValidationInfo

    def check(value: Any, info: ValidationInfo) -> Any:
        context = info.context
        if value is not None and context is not None and not context.get(EXPERIMENTAL_CONTEXT_KEY, False):
            raise ExperimentalNotEnabled(descriptor)
        return value

    return AfterValidator(check)


class Unmodeled:
    """A request field of the reference (experimental) that this server does not implement.

    It is still type-checked as the reference does (a wrong type is refused, as there). With
    ``refused`` set, any value beyond the neutral ones (null, false, an empty array or object) is refused with that
    reason: the field asks for something that does not exist here (a project, a permission
    profile, a rollout path…), and ignoring it would answer a different question. Without it the
    value is accepted and ignored (docs/compatibility.md `protocol:unmodeled-fields`).
    """

    __slots__ = ("accepts", "kinds", "neutral", "nullable", "paths", "refused")

    def __init__(
        self,
        *kinds: type,
        nullable: bool = True,
        refused: str | None = None,
        neutral: tuple[Any, ...] = (False, [], {}),
        paths: str | None = None,
        accepts: Callable[[Any], bool] | None = None,
    ) -> None:
        self.kinds = kinds
        self.nullable = nullable
        self.refused = refused
        #: Values that ask for nothing (accepted even when ``refused`` is set).
        self.neutral = neutral
        #: For a list of paths: "" when each item is a path, else the key holding it in each
        #: object item. The reference takes these as absolute paths only.
        self.paths = paths
        #: Values beyond the neutral ones that are accepted anyway (they ask for what we do).
        self.accepts = accepts

    def check(self, name: str, value: Any) -> None:
        if value is None:
            if not self.nullable:
                raise ValueError(f"`{name}` must not be null")
            return
        if (isinstance(value, bool) and bool not in self.kinds) or not isinstance(value, self.kinds):
            expected = " or ".join(_JSON_NAMES[kind] for kind in self.kinds)
            raise ValueError(f"`{name}` must be {expected}, got {type(value).__name__}")
        if self.paths is not None and isinstance(value, list):
            for item in value:
                path = item.get(self.paths) if self.paths and isinstance(item, dict) else item
                if not isinstance(path, str) or not path.startswith("/"):
                    raise ValueError(f"`{name}`: {path!r} is not an absolute path")
        if self.accepts is not None and self.accepts(value):
            return
        if self.refused is not None and not any(value == n and type(value) is type(n) for n in self.neutral):
            raise ValueError(f"`{name}` is not supported by this server: {self.refused}")


_JSON_NAMES: dict[type, str] = {
    bool: "a boolean",
    str: "a string",
    list: "an array",
    dict: "an object",
    int: "an integer",
}


def check_unmodeled(data: Any, fields: dict[str, Unmodeled]) -> Any:
    """For a ``model_validator(mode="before")``: check the raw params' unmodeled fields."""
    if isinstance(data, dict):
        for name, spec in fields.items():
            if name in data:
                spec.check(name, data[name])
    return data


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "EXPERIMENTAL_CONTEXT_KEY",
    "ExperimentalNotEnabled",
    "SnakeWireModel",
    "WireModel",
]
