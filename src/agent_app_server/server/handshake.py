"""``initialize`` without the server: the handshake's result, and answering it before anything
heavy is imported.

Owns: the ``initialize`` result (one place for both paths), the handshake state a connection
takes from it, and the stdio fast start: read the first line, answer a well-formed ``initialize``
at once, and hand every byte read so far to the real server, which then loads (asyncio, pydantic,
the store) while the client sends its next requests. Those wait in the pipe and are answered in
order by the server; nothing is answered twice, because the server starts from the handshake
state instead of seeing the ``initialize`` again.

Only a request the full path would accept identically takes the fast path: anything unusual
(another first method, a bad id, params the strict model might read differently) is handed to
the server unchanged, which answers it exactly as it always did.

Layer: server. Imports only the standard library (and the package's version), so that the
first answer costs the interpreter's start-up and little more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import PROTOCOL_VERSION, __version__

if TYPE_CHECKING:
    from .early_thread import EarlyThread

#: Notifications a client gets only if it opted into the experimental API.
EXPERIMENTAL_ONLY_NOTIFICATIONS = frozenset({"thread/readState/changed"})
#: ``clientInfo`` and ``capabilities`` fields of the reference's ``InitializeParams`` with their
#: JSON types (the strict model's), by wire name. Pinned against ``protocol.handshake`` by a test.
CLIENT_INFO_FIELDS: dict[str, tuple[type, ...]] = {"name": (str,), "version": (str,), "title": (str, type(None))}
CLIENT_INFO_REQUIRED = ("name", "version")
CAPABILITY_FIELDS: dict[str, tuple[type, ...]] = {
    "experimentalApi": (bool,),
    "optOutNotificationMethods": (list, type(None)),
    "explicitGatewayOauth": (bool,),
    "extensions": (dict, type(None)),
    "mcpServerOpenaiFormElicitation": (bool,),
    "requestAttestation": (bool,),
    "requiredHumanApproval": (bool,),
}
#: The transport's line limit (``transport.stdio.DEFAULT_MAX_LINE_BYTES``, pinned by a test):
#: a longer line read here is discarded like the transport discards it.
MAX_LINE_BYTES = 64 * 1024 * 1024
_I64 = 2**63
#: Compact JSON as the server writes it (non-ASCII as is), for the fast start's answers.
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a connection keeps from its ``initialize``."""

    client_name: str
    experimental_api: bool
    opted_out: frozenset[str]
    #: ``capabilities.eventReplay`` (beyond the reference): thread notifications carry ``seq``.
    event_replay: bool
    #: ``capabilities.observeAll`` (beyond the reference, experimental): every thread's
    #: notifications and server requests, without subscribing.
    observe_all: bool = False

    @classmethod
    def of(cls, client_name: str, capabilities: Any, opt_out: Sequence[str] | None, experimental: bool) -> Handshake:
        """``capabilities``: the raw wire object (for ``eventReplay`` and ``observeAll``, which the
        models do not carry)."""
        opted_out = frozenset(opt_out or ())
        if not experimental:
            # The reference sends read-state changes only to clients that opted into the experimental API.
            opted_out |= EXPERIMENTAL_ONLY_NOTIFICATIONS
        event_replay = isinstance(capabilities, dict) and capabilities.get("eventReplay") is True
        observe_all = isinstance(capabilities, dict) and capabilities.get("observeAll") is True
        return cls(client_name, experimental, opted_out, event_replay, observe_all)


def observe_all_refusal(capabilities: Any) -> str | None:
    """Why ``capabilities.observeAll`` cannot be granted as asked, or None.

    Every listener this server runs is loopback, a unix socket, stdio or authenticated
    (``listen.check_exposure`` refuses the rest before binding), so the capability is never
    offered to an anonymous remote client; what remains to check is the experimental opt-in.
    """
    if not isinstance(capabilities, dict) or "observeAll" not in capabilities:
        return None
    value = capabilities["observeAll"]
    if type(value) is not bool:
        return "Invalid capabilities: `observeAll` must be a boolean"
    if value and capabilities.get("experimentalApi") is not True:
        return "capabilities.observeAll is experimental: also set capabilities.experimentalApi to true"
    return None


def user_agent(client_name: str) -> str:
    """``<client>/<protocol version> (...)``: clients parse the version after the slash."""
    system = os.uname()
    platform = f"{system.sysname} {system.release}; {system.machine}"
    return f"{client_name}/{PROTOCOL_VERSION} (agent-app-server {__version__}; {platform})"


def platform_os() -> str:
    system = os.uname().sysname.lower()
    return {"darwin": "macos"}.get(system, system)


def initialize_result(client_name: str, codex_home: str) -> dict[str, Any]:
    """The wire form of ``InitializeResponse``."""
    return {
        "userAgent": user_agent(client_name),
        "codexHome": codex_home,
        "platformFamily": "windows" if os.name == "nt" else "unix",
        "platformOs": platform_os(),
    }


def _fields_ok(value: Any, fields: dict[str, tuple[type, ...]], required: Sequence[str] = ()) -> bool:
    if not isinstance(value, dict) or any(name not in value for name in required):
        return False
    for name, types in fields.items():
        if name in value:
            item = value[name]
            # bool is an int, and the strict model refuses an int where it wants a bool and vice versa.
            if type(item) not in types:
                return False
        if name != _snake(name) and _snake(name) in value:
            # The models also accept snake_case names; which one wins is theirs to decide.
            return False
    return True


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)


def fast_handshake(params: Any) -> Handshake | None:
    """The handshake of ``initialize`` params the strict models would accept as they are, or None
    (then the full path decides, with its own error messages)."""
    if not isinstance(params, dict) or "client_info" in params:
        return None
    client_info = params.get("clientInfo")
    if not isinstance(client_info, dict) or not _fields_ok(client_info, CLIENT_INFO_FIELDS, CLIENT_INFO_REQUIRED):
        return None
    capabilities = params.get("capabilities")
    if capabilities is not None:
        if not _fields_ok(capabilities, CAPABILITY_FIELDS) or observe_all_refusal(capabilities) is not None:
            return None
        opt_out = capabilities.get("optOutNotificationMethods")
        if opt_out is not None and not all(type(method) is str for method in opt_out):
            return None
        experimental = capabilities.get("experimentalApi", False)
    else:
        opt_out, experimental = None, False
    return Handshake.of(client_info["name"], capabilities, opt_out, experimental)


@dataclass(slots=True)
class EarlyStart:
    """What the stdio fast start read and did before the server runs."""

    #: Set when ``initialize`` was answered already.
    handshake: Handshake | None
    #: Lines read but not handled (in order), to be served first; None stands for a line longer
    #: than the transport accepts, already discarded.
    lines: list[bytes | None]
    #: The client closed its side after these lines.
    eof: bool
    #: A first ``thread/start`` answered already, for the server to adopt (``server.early_thread``).
    thread: EarlyThread | None = None


def answer_initialize_early(in_fd: int, out_fd: int, codex_home: str) -> EarlyStart:
    """Read whole lines up to the first message; answer it here if it is a well-formed ``initialize``."""
    lines, eof = read_whole_lines(in_fd)
    first = next((index for index, line in enumerate(lines) if line is None or line.strip()), None)
    if first is None:
        return EarlyStart(None, lines, eof)
    request = _initialize_request(lines[first])
    if request is None:
        return EarlyStart(None, lines, eof)
    request_id, handshake = request
    reply = encode_json({"id": request_id, "result": initialize_result(handshake.client_name, codex_home)})
    try:
        encoded = (reply + "\n").encode()
    except UnicodeEncodeError:  # e.g. a lone surrogate in the client's name: the server's to answer
        return EarlyStart(None, lines, eof)
    write_all(out_fd, encoded)
    return EarlyStart(handshake, lines[first + 1 :], eof)


def _initialize_request(line: bytes | None) -> tuple[Any, Handshake] | None:
    """The id (an int or a string, as the peer accepts) and handshake of an ``initialize``
    request the fast path answers."""
    if line is None:
        return None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested too deep: the server answers it
        return None
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return None
    request_id = message.get("id")
    if not is_request_id(request_id):
        return None
    handshake = fast_handshake(message.get("params"))
    return None if handshake is None else (request_id, handshake)


def read_whole_lines(fd: int, max_line: int = MAX_LINE_BYTES) -> tuple[list[bytes | None], bool]:
    """Block until at least one line is read, and stop at a line boundary (clients write whole
    lines, so this returns as soon as the first write is read). Returns the lines (None for one
    of ``max_line`` bytes or more, discarded) and whether the input ended."""
    lines: list[bytes | None] = []
    pending = bytearray()
    discarding = False
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            if pending.strip() and not discarding:
                lines.append(bytes(pending))
            return lines, True
        if b"\n" not in chunk:
            if not discarding:
                pending += chunk
                if len(pending) >= max_line:
                    lines.append(None)
                    discarding = True
                    pending.clear()
            continue
        *complete, rest = chunk.split(b"\n")
        if discarding:
            complete.pop(0)  # the end of an overlong line
            discarding = False
        elif pending:
            complete[0] = bytes(pending) + complete[0]
        pending = bytearray(rest)
        lines += [line + b"\n" if len(line) < max_line else None for line in complete]
        if not pending:
            return lines, False


def is_request_id(value: Any) -> bool:
    """An id the peer accepts as it is: a string, or an integer in the signed 64-bit range."""
    return type(value) is str or (type(value) is int and -_I64 <= value < _I64)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class PrefixedStream:
    """A ``MessageStream`` that first returns the lines the fast start read, then reads ``inner``."""

    def __init__(self, early: EarlyStart, inner: Any) -> None:
        self._lines = [line for line in early.lines if line is None or line.strip()]
        self._eof = early.eof
        self._inner = inner

    async def receive(self) -> bytes | str | None:
        if self._lines:
            line = self._lines.pop(0)
            if line is None:
                from ..transport import FrameTooLarge

                raise FrameTooLarge(MAX_LINE_BYTES)
            return line
        if self._eof:
            return None
        result: bytes | str | None = await self._inner.receive()
        return result

    async def send_many(self, messages: Sequence[str]) -> None:
        await self._inner.send_many(messages)

    async def close(self, reason: str = "") -> None:
        await self._inner.close(reason)
