"""Bounding what a tool sends back to the model.

Owns: the token estimate (4 bytes per token, as the reference), middle truncation that keeps the
head and tail of long output and says how much was cut, and bounded buffers for command output.
Layer: core (stdlib only).
"""

from __future__ import annotations

from typing import Any

BYTES_PER_TOKEN = 4
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
#: No single tool output may ask for more than this, whatever the model requests.
MAX_OUTPUT_TOKENS_CAP = 100_000


def approx_tokens(text: str) -> int:
    size = len(text.encode("utf-8"))
    return (size + BYTES_PER_TOKEN - 1) // BYTES_PER_TOKEN


def _head(data: bytes, size: int) -> str:
    return data[:size].decode("utf-8", "ignore")


def _tail(data: bytes, size: int) -> str:
    return data[len(data) - size :].decode("utf-8", "ignore") if size > 0 else ""


def truncate_for_model(text: str, max_tokens: int) -> str:
    """``text`` if it fits ``max_tokens``; else a warning line, the line count, and its head and
    tail around a ``…N tokens truncated…`` marker (the reference's shape)."""
    data = text.encode("utf-8")
    budget = max(max_tokens, 0) * BYTES_PER_TOKEN
    if len(data) <= budget:
        return text
    original = approx_tokens(text)
    removed = max(original - max_tokens, 1)
    half = budget // 2
    body = f"{_head(data, half)}…{removed} tokens truncated…{_tail(data, budget - half)}"
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return f"Warning: truncated output (original token count: {original})\nTotal output lines: {lines}\n\n{body}"


def bound_output(
    output: str | list[dict[str, Any]], max_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
) -> str | list[dict[str, Any]]:
    """A tool output (text, or Responses content parts) with its text cut to ``max_tokens``."""
    if isinstance(output, str):
        return truncate_for_model(output, max_tokens)
    budget = max_tokens
    bounded: list[dict[str, Any]] = []
    for part in output:
        if part.get("type") == "input_text" and isinstance(part.get("text"), str):
            text = truncate_for_model(part["text"], max(budget, 1))
            budget = max(budget - approx_tokens(text), 0)
            bounded.append({**part, "text": text})
        else:
            bounded.append(part)
    return bounded


class HeadTailBuffer:
    """Keeps the first and last ``limit / 2`` bytes of a stream and counts what fell between."""

    def __init__(self, limit: int = 1024 * 1024) -> None:
        self._half = limit // 2
        self._head = bytearray()
        self._tail = bytearray()
        self.dropped = 0

    def append(self, data: bytes) -> None:
        room = self._half - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        excess = len(self._tail) - self._half
        if excess > 0:
            del self._tail[:excess]
            self.dropped += excess

    def clear(self) -> None:
        self._head.clear()
        self._tail.clear()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._head) + len(self._tail)

    def text(self) -> str:
        if not self.dropped:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", "replace")
        head = bytes(self._head).decode("utf-8", "ignore")
        tail = bytes(self._tail).decode("utf-8", "ignore")
        return f"{head}\n[… {self.dropped} bytes of output omitted …]\n{tail}"
