"""Review: ``review/start`` and ``thread/approveGuardianDeniedAction`` (the user's override of an
approval auto-review).

Owns: their params and results, and ``ReviewTarget``.
Layer: protocol (imports ``_base`` and ``threads``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from ._base import WireModel
from .threads import Turn

__all__ = [
    "BaseBranchReviewTarget",
    "CommitReviewTarget",
    "CustomReviewTarget",
    "ReviewDelivery",
    "ReviewStartParams",
    "ReviewStartResponse",
    "ReviewTarget",
    "ThreadApproveGuardianDeniedActionParams",
    "ThreadApproveGuardianDeniedActionResponse",
    "UncommittedChangesReviewTarget",
]


class ThreadApproveGuardianDeniedActionParams(WireModel):
    thread_id: str
    #: A serialized ``GuardianAssessmentEvent`` (snake case), checked by the core as the reference does.
    event: Any


class ThreadApproveGuardianDeniedActionResponse(WireModel):
    pass


class UncommittedChangesReviewTarget(WireModel):
    type: Literal["uncommittedChanges"]


class BaseBranchReviewTarget(WireModel):
    type: Literal["baseBranch"]
    branch: str


class CommitReviewTarget(WireModel):
    type: Literal["commit"]
    sha: str
    title: str | None = None


class CustomReviewTarget(WireModel):
    type: Literal["custom"]
    instructions: str


ReviewTarget = TypeAliasType(
    "ReviewTarget",
    Annotated[
        UncommittedChangesReviewTarget | BaseBranchReviewTarget | CommitReviewTarget | CustomReviewTarget,
        Field(discriminator="type"),
    ],
)
ReviewDelivery = TypeAliasType("ReviewDelivery", Literal["inline"])


class ReviewStartParams(WireModel):
    thread_id: str
    target: ReviewTarget
    delivery: ReviewDelivery | None = None


class ReviewStartResponse(WireModel):
    turn: Turn
    review_thread_id: str
