"""``thread/approveGuardianDeniedAction``: the user overrides an approval auto-review's denial.

Owns: checking the denial event as the reference reads it (a ``GuardianAssessmentEvent``, snake
case) and the developer message that tells the model the user approved that exact action once —
appended to the thread's history without starting a turn, as the reference does. This server
routes approvals to the user and runs no auto-review of its own, so the denials come from the
client's records (or another server's); what an open server can honour is the user's override.
Layer: core.
"""

from __future__ import annotations

import json
from typing import Any

from ..rpc.errors import InvalidParams

STATUSES = ("in_progress", "approved", "denied", "timed_out", "aborted")
#: Action type → the fields it requires (the reference's ``GuardianAssessmentAction``).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "command": ("source", "command", "cwd"),
    "execve": ("source", "program", "argv", "cwd"),
    "write_stdin": ("approval_id", "process_id", "stdin", "cwd"),
    "apply_patch": ("cwd", "files"),
    "network_access": ("target", "host", "protocol", "port"),
    "mcp_tool_call": ("server", "tool_name"),
    "request_permissions": ("permissions",),
}

APPROVAL_NOTE = """\
The user reviewed an action that automatic approval review had `Rejected` and approved it.

This approval covers exactly the action below, once, in the context where it was first requested.
It does not extend to similar actions with other arguments.

Approved action:
{action}"""


def _invalid(reason: str) -> InvalidParams:
    return InvalidParams(f"invalid Guardian denial event: {reason}")


def approval_message(event: Any) -> dict[str, Any] | None:
    """The developer message for a denied event; None for an event that was not a denial (the
    reference ignores those). Raises ``InvalidParams`` naming what is wrong with the event."""
    if not isinstance(event, dict):
        raise _invalid(f"expected an object (a GuardianAssessmentEvent), got {type(event).__name__}")
    for name in ("id", "status", "action"):
        if name not in event:
            raise _invalid(f"missing field `{name}`")
    if not isinstance(event["id"], str):
        raise _invalid("`id` must be a string")
    if event["status"] not in STATUSES:
        raise _invalid(f"unknown status `{event['status']}`, expected one of {', '.join(STATUSES)}")
    action = event["action"]
    if not isinstance(action, dict) or action.get("type") not in ACTION_FIELDS:
        kind = action.get("type") if isinstance(action, dict) else None
        raise _invalid(f"unknown action type `{kind}`, expected one of {', '.join(ACTION_FIELDS)}")
    for name in ACTION_FIELDS[action["type"]]:
        if name not in action:
            raise _invalid(f"missing field `action.{name}`")
    if event["status"] != "denied":
        return None
    approved = json.dumps({"action": action, "outcome": "allowed"}, indent=2, ensure_ascii=False)
    text = APPROVAL_NOTE.format(action=approved)
    return {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]}
