"""The agent's tools: unified exec, apply_patch, plans, images, dynamic (client) tools and MCP.

Owns: everything between a model's tool call and the output it gets back — tool definitions,
approvals, sandboxed execution, items and their notifications. ``AgentToolRouter`` is what the
server hands to :class:`~agent_app_server.core.turns.TurnEngine`. Heavy pieces (the MCP SDK)
load only when a thread needs them.
Layer: core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .router import AgentToolRouter

__all__ = ["AgentToolRouter"]


def __getattr__(name: str) -> object:
    if name == "AgentToolRouter":
        from .router import AgentToolRouter

        return AgentToolRouter
    raise AttributeError(name)
