"""Approvals: when the agent must ask the client before acting, how it asks, and what it remembers.

Owns: the approval policies (``untrusted``, ``on-request``, ``never``, ``granular`` and the
config-only ``on-failure``) applied to commands and patches, the
``item/commandExecution/requestApproval`` / ``item/fileChange/requestApproval`` round trips
(with the thread's ``waitingOnApproval`` flag around them), the client's decisions, and what a
thread remembers for the rest of its session (``acceptForSession``, accepted execpolicy
prefixes, patch directories).

The rules follow the reference (as ``tests/server/test_approvals.py`` checks them):

* commands — pre-approval: ``untrusted`` always; ``on-request`` and ``granular`` only when the
  model asks to run outside the sandbox (``sandbox_permissions: require_escalated``);
  ``never``/``on-failure`` never. After a sandbox denial: ``untrusted`` and ``on-failure``
  retry without the sandbox (silently when the command was approved in the same flow, else
  after a prompt saying "command failed; retry without sandbox?"); ``granular`` does so when
  ``sandbox_approval`` is on; ``on-request`` and ``never`` report the failure.
* patches — ``untrusted`` always asks; the others ask only for writes the sandbox policy would
  not allow (``never`` refuses them without asking).

Layer: core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..sandbox import PROTECTED_NAMES, needs_sandbox, writable_roots
from ..threads import active_status
from ..turns import TurnInterrupted

if TYPE_CHECKING:
    from ..turns import TurnRunner

#: What the model is told when the user declines a command (the reference's text).
COMMAND_REJECTED = 'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }'
PATCH_REJECTED = "patch rejected by user"
RETRY_REASON = "command failed; retry without sandbox?"


class ApprovalCancelled(TurnInterrupted):
    """The client answered ``cancel``: the turn ends as interrupted."""


@dataclass(slots=True)
class SessionApprovals:
    """What a thread's client approved for the rest of the session."""

    commands: set[tuple[str, ...]] = field(default_factory=set)
    prefixes: list[tuple[str, ...]] = field(default_factory=list)
    #: Directories under which every patch write is approved.
    patch_dirs: set[str] = field(default_factory=set)

    def command_approved(self, argv: list[str], simple: list[str]) -> bool:
        if tuple(argv) in self.commands:
            return True
        return any(tuple(simple[: len(prefix)]) == prefix for prefix in self.prefixes if prefix)

    def patch_approved(self, paths: list[str]) -> bool:
        return bool(paths) and all(any(_within(path, root) for root in self.patch_dirs) for path in paths)


def policy_kind(policy: Any) -> str:
    """``untrusted`` | ``on-request`` | ``on-failure`` | ``never`` | ``granular``."""
    if isinstance(policy, dict) and "granular" in policy:
        return "granular"
    if policy in ("untrusted", "on-request", "on-failure", "never"):
        return str(policy)
    return "on-request"


def granular_flag(policy: Any, name: str) -> bool:
    if isinstance(policy, dict) and isinstance(policy.get("granular"), dict):
        return bool(policy["granular"].get(name, False))
    return False


# ---------------------------------------------------------------------- commands


def command_needs_approval(policy: Any, *, escalated: bool) -> bool:
    """Whether a command must be approved before its first attempt."""
    kind = policy_kind(policy)
    if kind == "untrusted":
        return True
    if kind == "on-request":
        return escalated
    if kind == "granular":
        return escalated and granular_flag(policy, "sandbox_approval")
    return False


def escalation_allowed(policy: Any) -> bool:
    """Whether the model may ask to run a command outside the sandbox at all."""
    kind = policy_kind(policy)
    return kind in ("untrusted", "on-request") or (kind == "granular" and granular_flag(policy, "sandbox_approval"))


def retry_without_sandbox(policy: Any) -> bool:
    """After a sandbox denial, whether the command may run again unsandboxed (maybe after asking)."""
    kind = policy_kind(policy)
    if kind in ("untrusted", "on-failure"):
        return True
    if kind == "granular":
        return granular_flag(policy, "sandbox_approval")
    return False


def command_decisions(amendment: list[str]) -> list[Any]:
    """``availableDecisions`` of a command approval: every decision we act on (the reference
    lists only accept / amendment / cancel, but also honours the others)."""
    return [
        "accept",
        "acceptForSession",
        {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": amendment}},
        "decline",
        "cancel",
    ]


# ---------------------------------------------------------------------- patches


def patch_writable(paths: list[str], sandbox_policy: dict[str, Any], cwd: str) -> bool:
    """Whether the sandbox policy itself allows writing every one of ``paths``."""
    if not needs_sandbox(sandbox_policy):
        return True
    roots = writable_roots(sandbox_policy, cwd=cwd)
    for path in paths:
        resolved = _resolve_existing(path)
        root = next((root for root in roots if _within(resolved, root)), None)
        if root is None:
            return False
        if any(_within(resolved, os.path.join(root, name)) for name in PROTECTED_NAMES):
            return False
    return True


def patch_needs_approval(policy: Any, writable: bool) -> bool | None:
    """True: ask; False: go ahead; None: refuse without asking."""
    kind = policy_kind(policy)
    if kind == "untrusted":
        return True
    if writable:
        return False
    if kind == "never":
        return None
    if kind == "granular" and not granular_flag(policy, "sandbox_approval"):
        return None
    return True


def _resolve_existing(path: str) -> str:
    """``path`` with symlinks resolved as far as the path exists (new files have no target yet)."""
    head, tail = path, ""
    while head and not os.path.exists(head):
        head, name = os.path.split(head)
        tail = os.path.join(name, tail) if tail else name
        if head in ("", "/"):
            break
    resolved = os.path.realpath(head) if head else head
    return os.path.join(resolved, tail) if tail else resolved


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# ---------------------------------------------------------------------- asking


def decision_of(answer: Any) -> tuple[str, Any]:
    """``(kind, detail)`` of a client's answer; anything unreadable counts as ``decline``."""
    decision = answer.get("decision") if isinstance(answer, dict) else None
    if decision in ("accept", "acceptForSession", "decline", "cancel"):
        return str(decision), None
    if isinstance(decision, dict):
        amendment = decision.get("acceptWithExecpolicyAmendment")
        if isinstance(amendment, dict) and isinstance(amendment.get("execpolicy_amendment"), list):
            return "acceptWithExecpolicyAmendment", [str(word) for word in amendment["execpolicy_amendment"]]
        if "applyNetworkPolicyAmendment" in decision:
            return "accept", None
    return "decline", None


def set_waiting(runner: TurnRunner, waiting: bool) -> None:
    """Flip the thread's ``waitingOnApproval`` flag and tell subscribers."""
    thread = runner.thread
    if thread.active is not runner:
        return
    runner.engine.set_status(thread, active_status(waiting_on_approval=waiting))


async def ask(runner: TurnRunner, method: str, params: dict[str, Any]) -> tuple[str, Any]:
    """Send an approval request to the thread's clients and wait for the first answer.

    The caller has already set ``waitingOnApproval`` (the reference orders that differently for
    commands and patches); this clears it once answered. A client error counts as ``decline``.
    """
    from ...rpc import RemoteError

    try:
        answer = await runner.engine.sink.request(runner.thread_id, method, params)
    except RemoteError:
        answer = None
    set_waiting(runner, False)
    return decision_of(answer)
