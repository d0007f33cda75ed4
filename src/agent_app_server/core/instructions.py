"""What the model is told before the user speaks: base instructions, personality, developer
instructions, project ``AGENTS.md`` files and the ``<environment_context>`` message.

Owns: the wording of our own instructions (written for this project, not copied) and the
discovery of ``AGENTS.md`` from the working directory up to the repository root.
Layer: core.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_INSTRUCTIONS = """\
You are a coding agent working inside a user's software project through a tool-using harness.
Work carefully and finish what you are asked: read the relevant code before changing it, make
focused edits, and verify your work by running the project's own checks when you can.

How to work:
- Prefer small, reviewable changes that follow the conventions already present in the code base.
- When you run commands, explain briefly what you are about to do and why.
- Never discard the user's work (no force-resets, no deleting files you did not create) unless
  the user asked for it.
- If a command is refused by the sandbox or by the user, do not try to get around the refusal;
  adapt the plan or ask.
- Keep your final answer short: what you changed, how you verified it, and anything left open.
"""

PERSONALITY_INSTRUCTIONS = {
    "friendly": "Be warm and encouraging in tone while staying precise and concise.",
    "pragmatic": "Be direct and matter-of-fact; skip pleasantries and focus on the work.",
}

#: Project instruction files larger than this are cut, so one file cannot fill the context.
PROJECT_DOC_MAX_BYTES = 32 * 1024
PROJECT_DOC_NAMES = ("AGENTS.override.md", "AGENTS.md")


@dataclass(frozen=True, slots=True)
class ProjectDoc:
    path: Path
    text: str


def find_project_docs(cwd: str, max_bytes: int = PROJECT_DOC_MAX_BYTES) -> list[ProjectDoc]:
    """``AGENTS.md`` files from the repository root down to ``cwd`` (outermost first).

    The root is the nearest ancestor holding ``.git``; without one only ``cwd`` itself is read,
    so an agent started in a scratch directory does not pick up instructions from ``/``.
    """
    start = Path(cwd)
    chain = [start, *start.parents]
    root_index = next((i for i, folder in enumerate(chain) if (folder / ".git").exists()), 0)
    docs = []
    for folder in reversed(chain[: root_index + 1]):
        for name in PROJECT_DOC_NAMES:
            candidate = folder / name
            try:
                raw = candidate.read_bytes()
            except OSError:
                continue
            text = raw[:max_bytes].decode("utf-8", errors="replace")
            if len(raw) > max_bytes:
                text += f"\n[... {len(raw) - max_bytes} more bytes of {name} not shown]"
            docs.append(ProjectDoc(candidate, text))
            break  # an override file replaces the plain one in the same folder
    return docs


def developer_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": text}]}


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def instruction_messages(
    *,
    base_instructions: str | None,
    personality: str | None,
    developer_instructions: str | None,
    project_docs: list[ProjectDoc],
) -> list[dict[str, Any]]:
    """The developer messages that open every request, as the reference sends them."""
    parts = [base_instructions or BASE_INSTRUCTIONS]
    if personality in PERSONALITY_INSTRUCTIONS:
        parts.append(PERSONALITY_INSTRUCTIONS[personality])
    messages = [developer_message("\n\n".join(parts))]
    if developer_instructions:
        messages.append(developer_message(developer_instructions))
    for doc in project_docs:
        messages.append(
            user_message(
                f"# AGENTS.md instructions for {doc.path.parent}\n\n<INSTRUCTIONS>\n{doc.text}\n</INSTRUCTIONS>"
            )
        )
    return messages


def environment_context(*, cwd: str, sandbox_policy: dict[str, Any], approval_policy: Any) -> dict[str, Any]:
    """The ``<environment_context>`` user message: where the agent is and what it may do."""
    shell = Path(os.environ.get("SHELL", "/bin/bash")).name
    sandbox = sandbox_policy.get("type", "readOnly")
    network = "enabled" if sandbox_policy.get("networkAccess") or sandbox == "dangerFullAccess" else "restricted"
    approval = approval_policy if isinstance(approval_policy, str) else "granular"
    writable = [cwd, *sandbox_policy.get("writableRoots", [])] if sandbox == "workspaceWrite" else []
    roots = "".join(f"\n    <root>{root}</root>" for root in writable)
    text = (
        "<environment_context>\n"
        f"  <cwd>{cwd}</cwd>\n"
        f"  <approval_policy>{approval}</approval_policy>\n"
        f"  <sandbox_mode>{_sandbox_mode(sandbox)}</sandbox_mode>\n"
        f"  <network_access>{network}</network_access>\n"
        f"  <writable_roots>{roots}\n  </writable_roots>\n"
        f"  <shell>{shell}</shell>\n"
        f"  <current_date>{time.strftime('%Y-%m-%d')}</current_date>\n"
        f"  <timezone>{time.strftime('%Z') or 'UTC'}</timezone>\n"
        "</environment_context>"
    )
    return user_message(text)


def _sandbox_mode(policy_type: str) -> str:
    return {
        "readOnly": "read-only",
        "workspaceWrite": "workspace-write",
        "dangerFullAccess": "danger-full-access",
        "externalSandbox": "external-sandbox",
    }.get(policy_type, policy_type)
