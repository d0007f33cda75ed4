"""A first ``thread/start`` answered by the stdio fast start, before asyncio and pydantic load.

SDKs and orchestrators spawn the server, answer-wait ``initialize`` and send ``thread/start`` at
once; loading asyncio, pydantic and the handlers costs more than the whole answer of the Rust
reference. So after answering ``initialize`` early (``server.handshake``), the fast start waits a
moment for the client's next request and, if it is a plain ``thread/start``, answers it too,
from ``core.thread_basics`` — the functions the ``thread/start`` handler uses. The server then
adopts the thread before it reads anything else (``handlers.threads.adopt_early_thread``: the
subscription, ``thread/started``, the thread's tools), so the client sees what the handler would
have sent, in the same order.

Owns: which ``thread/start`` requests take this path, answering them, and ``EarlyThread`` (what
the server adopts). Only requests whose every field means one plain thing here take it; anything
else (another method first, an unknown or snake_case field, a value the strict models might read
differently, a config with warnings to announce first, fleet mode, ``eventReplay`` or
``observeAll`` connections) is left to the server, which answers it as it always did.
Layer: server. Imports the standard library, ``server.handshake`` and ``core.thread_basics``.
"""

from __future__ import annotations

import json
import select
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from ..core.thread_basics import (
    IDLE,
    ClientIdentity,
    ThreadSettings,
    default_settings,
    new_thread_record,
    sandbox_policy_for_mode,
    session_result,
    wire_thread,
)
from .handshake import EarlyStart, Handshake, encode_json, is_request_id, read_whole_lines, write_all

if TYPE_CHECKING:
    from ..core.config import Config
    from ..store.records import ThreadRecord

#: How long the fast start waits for the request after ``initialize`` before it loads the server
#: anyway. A client that sends nothing meanwhile (an IDE waiting for its user) loses at most this
#: much; one that sends ``thread/start`` at once gets it answered before the server has loaded.
NEXT_REQUEST_WAIT_S = 0.02

#: The string values of ``AskForApproval`` and ``SandboxMode`` as the protocol models accept
#: them (pinned against the models by a test).
APPROVAL_POLICIES = frozenset({"untrusted", "on-request", "never"})
SANDBOX_MODES = frozenset({"read-only", "workspace-write", "danger-full-access"})

#: The ``thread/start`` params this path understands, with the JSON type of each (null is
#: always allowed: the models read it as absent).
PLAIN_PARAMS: dict[str, type] = {
    "cwd": str,
    "model": str,
    "ephemeral": bool,
    "approvalPolicy": str,
    "sandbox": str,
}


@dataclass(frozen=True, slots=True)
class EarlyThread:
    """A thread the fast start answered ``thread/start`` with, for the server to adopt."""

    record: ThreadRecord
    settings: ThreadSettings
    ephemeral: bool


def answer_thread_start_early(early: EarlyStart, in_fd: int, out_fd: int, config: Config) -> EarlyStart:
    """After an early ``initialize`` answer: answer the client's first request here if it is a
    plain ``thread/start`` (returning the lines without it and the thread to adopt), else return
    what was read, for the server."""
    handshake = early.handshake
    if handshake is None or not _eligible(config, handshake):
        return early
    lines, eof = list(early.lines), early.eof
    while True:
        index = _first_request(lines)
        if index is None:
            if eof or not _input_within(in_fd, NEXT_REQUEST_WAIT_S):
                return EarlyStart(handshake, lines, eof)
            more, eof = read_whole_lines(in_fd)
            lines += more
            continue
        answered = _answer(lines[index], handshake, config, out_fd)
        if answered is None:
            return EarlyStart(handshake, lines, eof)
        return EarlyStart(handshake, lines[:index] + lines[index + 1 :], eof, thread=answered)


def _eligible(config: Config, handshake: Handshake) -> bool:
    # Warnings are announced right after ``initialize`` (before any other answer); a fleet's
    # ``thread/start`` involves the shared store; numbered or observed connections get
    # ``thread/started`` through the server's machinery only.
    return (
        not config.warnings
        and config.store.url is None
        and not handshake.event_replay
        and not handshake.observe_all
        and isinstance(config.approval_policy, str)
        and config.approval_policy in APPROVAL_POLICIES
        # ``ReasoningEffort`` is a non-empty string.
        and (config.reasoning_effort is None or config.reasoning_effort != "")
    )


def _first_request(lines: list[bytes | None]) -> int | None:
    """The index of the first line that is not blank and not the ``initialized`` notification
    (None: there is none yet). An overlong line counts as a request (the server's to refuse)."""
    for index, line in enumerate(lines):
        if line is not None and (not line.strip() or _is_initialized(line)):
            continue
        return index
    return None


def _is_initialized(line: bytes) -> bool:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(message, dict)
        and message.get("method") == "initialized"
        and "id" not in message
        and set(message) <= {"method", "jsonrpc", "params"}
    )


def _input_within(fd: int, seconds: float) -> bool:
    readable, _, _ = select.select([fd], [], [], seconds)
    return bool(readable)


def _answer(line: bytes | None, handshake: Handshake, config: Config, out_fd: int) -> EarlyThread | None:
    """Answer ``line`` if it is a plain ``thread/start``; None (nothing written) otherwise."""
    if line is None:
        return None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("method") != "thread/start":
        return None
    if not set(message) <= {"id", "method", "params", "jsonrpc"} or not is_request_id(message.get("id")):
        return None
    params = message.get("params")
    if not _plain(params):
        return None
    try:
        settings = default_settings(config, params.get("cwd"))
    except Exception:  # an unusual cwd: the server's to answer, with its own error
        return None
    if params.get("model") is not None:
        settings.model = params["model"]
    if params.get("approvalPolicy") is not None:
        settings.approval_policy = params["approvalPolicy"]
    if params.get("sandbox") is not None:
        settings.sandbox_policy = sandbox_policy_for_mode(params["sandbox"], config, settings.cwd)
    ephemeral = bool(params.get("ephemeral"))
    record = new_thread_record(ClientIdentity(handshake.client_name), settings)
    thread = wire_thread(record, status=dict(IDLE), settings=settings, ephemeral=ephemeral)
    reply = {"id": message["id"], "result": session_result(thread, settings)}
    try:
        encoded = (encode_json(reply) + "\n").encode()
    except UnicodeEncodeError:  # e.g. a lone surrogate in the cwd: the server's to answer
        return None
    write_all(out_fd, encoded)
    return EarlyThread(record, settings, ephemeral)


def _plain(params: Any) -> TypeGuard[dict[str, Any]]:
    if not isinstance(params, dict):
        return False
    for name, value in params.items():
        kind = PLAIN_PARAMS.get(name)
        if kind is None or (value is not None and type(value) is not kind):
            return False
    model = params.get("model")
    approval = params.get("approvalPolicy")
    sandbox = params.get("sandbox")
    return (
        (model is None or bool(model.strip()))
        and (approval is None or approval in APPROVAL_POLICIES)
        and (sandbox is None or sandbox in SANDBOX_MODES)
    )
