"""Server-sent-events framing for raw response bytes.

Owns: turning the byte chunks of an ``text/event-stream`` body into the ``data`` payload of each
event. This is the hot path of every model response (one event per token), so it works on whole
chunks: one ``decode`` and one ``split`` per chunk, a prefix test per line, no per-event objects
besides the payload string. ``event:``/``id:``/``retry:`` fields and comments are ignored: every
payload we consume carries its own ``type``.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations


class SseDecoder:
    """Incremental SSE decoder: ``feed`` chunks, then ``finish`` at end of stream."""

    __slots__ = ("_data", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: str | None = None

    def feed(self, chunk: bytes) -> list[str]:
        """The payloads of the events completed by ``chunk``, in order."""
        end = chunk.rfind(b"\n")
        if end < 0:
            self._tail += chunk
            return []
        block = self._tail + chunk[:end] if self._tail else chunk[:end]
        self._tail = chunk[end + 1 :]
        # Decoding complete lines only is safe: "\n" never occurs inside a multi-byte UTF-8 sequence.
        return self._lines(block.decode("utf-8", "replace").split("\n"))

    def finish(self) -> list[str]:
        """Payloads still buffered at end of stream; a last event without its blank line counts."""
        lines = [self._tail.decode("utf-8", "replace")] if self._tail else []
        self._tail = b""
        lines.append("")
        return self._lines(lines)

    def _lines(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        data = self._data
        for line in lines:
            if line.startswith("data:"):
                # The optional space after the colon and a trailing "\r" are left in place: JSON
                # ignores surrounding whitespace, and stripping costs a copy per event.
                value = line[5:]
                data = value if data is None else f"{data}\n{value.removeprefix(' ')}"
            elif (not line or line == "\r") and data is not None:
                out.append(data)
                data = None
        self._data = data
        return out
