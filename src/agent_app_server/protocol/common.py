"""Shared wire vocabulary: integer widths, policies, settings enums and user input.

Owns: the types that several messages share and that belong to no single thread, turn or item
(approval and sandbox policies, reasoning and personality settings, ``UserInput``), plus the
``AlternativeKeys`` base for the reference's flattened "one of these keys" shapes.
Imports only ``_base``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, WireModel, experimental_gate

# Integer widths as the reference declares them (its serde types reject values out of range).
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = int  # unchecked: the i64 values on this wire (times, counts) never come near the bounds
#: An i64 a client sends: out of range is refused, as the reference's deserializer does.
CheckedInt64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
UInt = Annotated[int, Field(ge=0, le=2**64 - 1)]
UInt16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]

RequestId = TypeAliasType("RequestId", str | Int64)


def _is_none(value: object) -> bool:
    return value is None


def alternative() -> Any:
    """A field of an :class:`AlternativeKeys` group: absent from the message when unset."""
    return Field(default=None, exclude_if=_is_none)


class AlternativeKeys(WireModel):
    """A type whose message carries one of several alternative keys (``{url} | {fileId}``).

    The reference flattens such a choice into the surrounding object, so the keys are plain
    optional fields here: at least one must be set, and an unset one is left out of the message
    rather than sent as null.
    """

    alternatives: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _alternative_keys(cls) -> list[str]:
        return [cls.model_fields[name].alias or name for name in cls.alternatives]

    @model_validator(mode="after")
    def _one_alternative_set(self) -> Self:
        if all(getattr(self, name) is None for name in self.alternatives):
            raise ValueError("expected " + " or ".join(f"`{key}`" for key in self._alternative_keys()))
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler, /) -> JsonSchemaValue:
        # Described as the reference does: each alternative is a non-null key of its own branch.
        schema = handler.resolve_ref_schema(handler(core_schema))
        branches = []
        for key in cls._alternative_keys():
            prop = schema["properties"].pop(key)
            value = next(member for member in prop["anyOf"] if member != {"type": "null"})
            branches.append({"properties": {key: value}, "required": [key], "type": "object"})
        schema["anyOf"] = branches
        return schema


# ---------------------------------------------------------------------- settings

ReasoningEffort = TypeAliasType("ReasoningEffort", Annotated[str, Field(min_length=1)])
ReasoningSummary = TypeAliasType("ReasoningSummary", Literal["auto", "concise", "detailed", "none"])
Personality = TypeAliasType("Personality", Literal["none", "friendly", "pragmatic"])
ApprovalsReviewer = TypeAliasType("ApprovalsReviewer", Literal["user", "auto_review", "guardian_subagent"])
SandboxMode = TypeAliasType("SandboxMode", Literal["read-only", "workspace-write", "danger-full-access"])
NetworkAccess = TypeAliasType("NetworkAccess", Literal["restricted", "enabled"])
ImageDetail = TypeAliasType("ImageDetail", Literal["auto", "low", "high", "original"])
SortDirection = TypeAliasType("SortDirection", Literal["asc", "desc"])


class GranularApprovalConfig(SnakeWireModel):
    """Which kinds of approval prompts a granular policy lets through to the user."""

    mcp_elicitations: bool
    request_permissions: bool = False
    rules: bool
    sandbox_approval: bool
    skill_approval: bool = False


class GranularAskForApproval(WireModel):
    granular: GranularApprovalConfig


AskForApproval = TypeAliasType(
    "AskForApproval",
    Literal["untrusted", "on-request", "never"]
    | Annotated[GranularAskForApproval, experimental_gate("askForApproval.granular")],
)


class DangerFullAccessSandboxPolicy(WireModel):
    type: Literal["dangerFullAccess"] = "dangerFullAccess"


class ReadOnlySandboxPolicy(WireModel):
    type: Literal["readOnly"] = "readOnly"
    network_access: bool = False


class ExternalSandboxSandboxPolicy(WireModel):
    type: Literal["externalSandbox"] = "externalSandbox"
    network_access: NetworkAccess = "restricted"


class WorkspaceWriteSandboxPolicy(WireModel):
    type: Literal["workspaceWrite"] = "workspaceWrite"
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    network_access: bool = False
    writable_roots: list[str] = []


SandboxPolicy = TypeAliasType(
    "SandboxPolicy",
    Annotated[
        DangerFullAccessSandboxPolicy
        | ReadOnlySandboxPolicy
        | ExternalSandboxSandboxPolicy
        | WorkspaceWriteSandboxPolicy,
        Field(discriminator="type"),
    ],
)


# ---------------------------------------------------------------------- user input


class ByteRange(WireModel):
    start: UInt
    end: UInt


class TextElement(WireModel):
    """A UI-defined span of a text input (e.g. a mention chip), by byte offsets into ``text``."""

    byte_range: ByteRange
    placeholder: str | None = None


class TextUserInput(SnakeWireModel):
    type: Literal["text"] = "text"
    text: str
    text_elements: list[TextElement] = []


class ImageUserInput(AlternativeKeys):
    alternatives = ("url", "file_id")

    type: Literal["image"] = "image"
    url: str | None = alternative()
    file_id: str | None = alternative()
    detail: ImageDetail | None = None


class LocalImageUserInput(WireModel):
    type: Literal["localImage"] = "localImage"
    path: str
    detail: ImageDetail | None = None


class AudioUserInput(AlternativeKeys):
    alternatives = ("url", "file_id")

    type: Literal["audio"] = "audio"
    url: str | None = alternative()
    file_id: str | None = alternative()


class LocalAudioUserInput(WireModel):
    type: Literal["localAudio"] = "localAudio"
    path: str


class SkillUserInput(WireModel):
    type: Literal["skill"] = "skill"
    name: str
    path: str


class MentionUserInput(WireModel):
    type: Literal["mention"] = "mention"
    name: str
    path: str


UserInput = TypeAliasType(
    "UserInput",
    Annotated[
        TextUserInput
        | ImageUserInput
        | LocalImageUserInput
        | AudioUserInput
        | LocalAudioUserInput
        | SkillUserInput
        | MentionUserInput,
        Field(discriminator="type"),
    ],
)


# ---------------------------------------------------------------------- tool output


class InputTextFunctionCallOutputContentItem(SnakeWireModel):
    type: Literal["input_text"] = "input_text"
    text: str


class InputImageFunctionCallOutputContentItem(AlternativeKeys):
    model_config = ConfigDict(alias_generator=None)
    alternatives = ("image_url", "file_id")

    type: Literal["input_image"] = "input_image"
    image_url: str | None = alternative()
    file_id: str | None = alternative()
    detail: ImageDetail | None = None


class InputAudioFunctionCallOutputContentItem(AlternativeKeys):
    model_config = ConfigDict(alias_generator=None)
    alternatives = ("audio_url", "file_id")

    type: Literal["input_audio"] = "input_audio"
    audio_url: str | None = alternative()
    file_id: str | None = alternative()


class EncryptedContentFunctionCallOutputContentItem(SnakeWireModel):
    type: Literal["encrypted_content"] = "encrypted_content"
    encrypted_content: str


FunctionCallOutputContentItem = TypeAliasType(
    "FunctionCallOutputContentItem",
    Annotated[
        InputTextFunctionCallOutputContentItem
        | InputImageFunctionCallOutputContentItem
        | InputAudioFunctionCallOutputContentItem
        | EncryptedContentFunctionCallOutputContentItem,
        Field(discriminator="type"),
    ],
)

#: A tool's output as the Responses API takes it: plain text or content items.
FunctionCallOutputBody = TypeAliasType("FunctionCallOutputBody", str | list[FunctionCallOutputContentItem])

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "ApprovalsReviewer",
    "AskForApproval",
    "AudioUserInput",
    "ByteRange",
    "DangerFullAccessSandboxPolicy",
    "EncryptedContentFunctionCallOutputContentItem",
    "ExternalSandboxSandboxPolicy",
    "FunctionCallOutputBody",
    "FunctionCallOutputContentItem",
    "GranularApprovalConfig",
    "GranularAskForApproval",
    "ImageDetail",
    "ImageUserInput",
    "InputAudioFunctionCallOutputContentItem",
    "InputImageFunctionCallOutputContentItem",
    "InputTextFunctionCallOutputContentItem",
    "LocalAudioUserInput",
    "LocalImageUserInput",
    "MentionUserInput",
    "NetworkAccess",
    "Personality",
    "ReadOnlySandboxPolicy",
    "ReasoningEffort",
    "ReasoningSummary",
    "RequestId",
    "SandboxMode",
    "SandboxPolicy",
    "SkillUserInput",
    "SortDirection",
    "TextElement",
    "TextUserInput",
    "UserInput",
    "WorkspaceWriteSandboxPolicy",
]
