"""What core hands the server layer, recorded: the test's side of ``core.threads.EventSink``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordingSink:
    """The server layer's side of ``core.threads.EventSink``: keeps every notification; a
    server→client request is answered with ``answer`` (an approval decision by default)."""

    notifications: list[tuple[str | None, str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    answer: Any = field(default_factory=lambda: {"decision": "accept"})

    def emit(self, thread_id: str | None, method: str, params: Any) -> None:
        self.notifications.append((thread_id, method, params))

    def emit_encoded(self, thread_id: str, method: str, encoded: str) -> None:
        self.notifications.append((thread_id, method, encoded))

    async def request(self, thread_id: str, method: str, params: Any, *, notify_resolved: bool = True) -> Any:
        self.requests.append((thread_id, method, params))
        return self.answer

    def methods(self) -> list[str]:
        return [method for _, method, _ in self.notifications]
