"""What a thread's turns carry from one turn to the next, apart from the thread itself.

Owns: the per-thread state of the agent loop — the running turn, the model-visible context, the
flags the next turn acts on, token usage, the last rate-limit snapshot, the read revision, and
the tools' per-thread state — as one typed object, ``LoadedThread.turn_state``. ``core.turns``
reads and writes it; the thread container (``core.threads``) only holds it.
Layer: core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tools.router import ThreadTools
    from .turns import TurnRunner


@dataclass(slots=True)
class TurnState:
    #: The turn running now, if any.
    active: TurnRunner | None = None
    #: The model-visible history (Responses items); None until loaded from the store.
    context: list[dict[str, Any]] | None = None
    #: The ``SessionStart`` hooks ran for this thread in this process.
    session_hooks_ran: bool = False
    #: The next request tells the model the previous turn was cut short.
    abort_note_pending: bool = False
    #: The next turn first compacts the context (the last request overflowed the window).
    compact_before_next_turn: bool = False
    #: Token usage summed over the thread's responses (wire ``TokenUsageBreakdown`` keys).
    token_total: dict[str, int] = field(default_factory=dict)
    last_input_tokens: int = 0
    #: The last rate-limit snapshot the provider sent (wire ``RateLimitSnapshot``).
    rate_limits: dict[str, Any] = field(default_factory=dict)
    #: Bumped each time a finished turn waits for the user's attention (``thread/readState``).
    read_revision: int = 0
    #: State of ``core.tools`` for this thread (session approvals, running commands, the turn diff).
    tools: ThreadTools | None = None
