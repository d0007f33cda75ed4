"""Test and benchmark helpers that ship with the package (stdlib only, no test framework).

``fake_model`` is a scriptable fake of the OpenAI Responses API, good enough to drive both our
server and the reference ``codex app-server`` through complete turns. ``crash`` kills either
server at chosen moments of a turn and checks what survived (imported on its own, not here).
Layer: testing (imports nothing of this project beyond its own package).
"""

from .fake_model import (
    DEFAULT_MODEL,
    Delay,
    Disconnect,
    FakeModelServer,
    HttpResponse,
    Raw,
    RecordedRequest,
    Script,
    ScriptSource,
    SseEvent,
    Step,
    custom_tool_call_reply,
    default_usage,
    delay,
    disconnect_after,
    function_call_reply,
    http_error,
    paced,
    response_failed,
    text_reply,
)

__all__ = [
    "DEFAULT_MODEL",
    "Delay",
    "Disconnect",
    "FakeModelServer",
    "HttpResponse",
    "Raw",
    "RecordedRequest",
    "Script",
    "ScriptSource",
    "SseEvent",
    "Step",
    "custom_tool_call_reply",
    "default_usage",
    "delay",
    "disconnect_after",
    "function_call_reply",
    "http_error",
    "paced",
    "response_failed",
    "text_reply",
]
