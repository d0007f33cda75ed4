"""``model/list``: the models a client may pick, with their reasoning options.

Owns: ``ModelListParams`` / ``ModelListResponse`` and the ``Model`` description.
Imports ``_base`` and ``common``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from ._base import WireModel
from .common import Int64, ReasoningEffort, UInt32

InputModality = TypeAliasType("InputModality", Literal["text", "image", "audio"])
CyberAccessProgram = TypeAliasType("CyberAccessProgram", Literal["standard", "daybreakBlue", "daybreakRed"])
MultiAgentVersion = TypeAliasType("MultiAgentVersion", Literal["disabled", "v1", "v2"])


class ModelListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None
    include_hidden: bool | None = None
    model_provider: str | None = None


class ReasoningEffortOption(WireModel):
    reasoning_effort: ReasoningEffort
    description: str


class ModelAccessPrograms(WireModel):
    cyber: list[CyberAccessProgram]


class ModelAvailabilityNux(WireModel):
    message: str


class ModelServiceTier(WireModel):
    id: str
    name: str
    description: str


class ModelUpgradeInfo(WireModel):
    model: str
    migration_markdown: str | None = None
    model_link: str | None = None
    retirement_at: Int64 | None = None
    upgrade_copy: str | None = None


class Model(WireModel):
    id: str
    model: str
    display_name: str
    description: str
    hidden: bool
    is_default: bool
    supported_reasoning_efforts: list[ReasoningEffortOption]
    default_reasoning_effort: ReasoningEffort
    upgrade: str | None = None
    upgrade_info: ModelUpgradeInfo | None = None
    availability_nux: ModelAvailabilityNux | None = None
    model_specialty: str | None = None
    input_modalities: list[InputModality] = ["text", "image"]
    supports_personality: bool = False
    multi_agent_version: MultiAgentVersion | None = None
    additional_speed_tiers: list[str] = []
    service_tiers: list[ModelServiceTier] = []
    default_service_tier: str | None = None
    available_access_programs: ModelAccessPrograms | None = None


class ModelListResponse(WireModel):
    data: list[Model]
    next_cursor: str | None = None


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "CyberAccessProgram",
    "InputModality",
    "Model",
    "ModelAccessPrograms",
    "ModelAvailabilityNux",
    "ModelListParams",
    "ModelListResponse",
    "ModelServiceTier",
    "ModelUpgradeInfo",
    "MultiAgentVersion",
    "ReasoningEffortOption",
]
