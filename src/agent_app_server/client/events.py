"""What the server tells a client: :class:`Event` (one notification), and the per-turn record a
:class:`~agent_app_server.client.TurnHandle` reads.

Owns: notification routing keys (thread id, turn id) and the per-turn log. Layer: client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ResponseValidationError

if TYPE_CHECKING:
    from ..protocol import WireModel

#: Notifications that end a turn (the turn's iterator stops after it).
TURN_COMPLETED = "turn/completed"


@dataclass(slots=True)
class Event:
    """One notification as it arrived. ``params`` is the JSON object; :meth:`model` validates it
    into its protocol class on demand (streaming thousands of deltas costs no validation).
    ``seq`` is the server's per-thread replay number (only with ``eventReplay``)."""

    method: str
    params: Any
    seq: int | None = None

    @property
    def thread_id(self) -> str | None:
        params = self.params
        value = params.get("threadId") if isinstance(params, dict) else None
        return value if isinstance(value, str) else None

    @property
    def turn_id(self) -> str | None:
        return turn_id_of(self.params)

    def model(self) -> WireModel:
        """The params as their protocol model (``NOTIFICATIONS[method].params``)."""
        from ..protocol.registry import NOTIFICATIONS

        spec = NOTIFICATIONS.get(self.method)
        if spec is None:
            raise ResponseValidationError(f"{self.method} is not a notification this client knows", self.params)
        model: WireModel = validate(spec.params, self.params, self.method)
        return model

    def to_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {"method": self.method, "params": self.params}
        if self.seq is not None:
            message["seq"] = self.seq
        return message


def turn_id_of(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    value = params.get("turnId")
    if value is None:
        turn = params.get("turn")
        value = turn.get("id") if isinstance(turn, dict) else None
    return value if isinstance(value, str) else None


def validate(model: Any, raw: Any, what: str) -> Any:
    """``model.model_validate(raw)``, failing with the typed error that says what did not match."""
    from pydantic import ValidationError

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors(include_url=False)[:3]
        )
        raise ResponseValidationError(
            f"{what}: the server's message does not match the protocol ({problems})", raw
        ) from None


class TurnLog:
    """Every event of one turn, in order, kept for the life of its handle (several readers may
    iterate it; each sees all of it). ``failure`` ends the log early (the connection was lost)."""

    __slots__ = ("_changed", "completed", "events", "failure")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.completed: dict[str, Any] | None = None
        self.failure: BaseException | None = None
        self._changed = asyncio.Event()

    @property
    def done(self) -> bool:
        return self.completed is not None or self.failure is not None

    def add(self, event: Event) -> None:
        self.events.append(event)
        if event.method == TURN_COMPLETED:
            turn = event.params.get("turn") if isinstance(event.params, dict) else None
            self.completed = turn if isinstance(turn, dict) else {}
        changed = self._changed
        if not changed.is_set():
            changed.set()

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.failure = error
            self._changed.set()

    async def follow(self) -> AsyncIterator[Event]:
        index = 0
        events = self.events
        while True:
            while index < len(events):
                yield events[index]
                index += 1
            if self.completed is not None:
                return
            if self.failure is not None:
                raise self.failure
            self._changed.clear()
            await self._changed.wait()

    async def wait(self) -> dict[str, Any]:
        while not self.done:
            self._changed.clear()
            await self._changed.wait()
        if self.completed is None:
            assert self.failure is not None
            raise self.failure
        return self.completed
