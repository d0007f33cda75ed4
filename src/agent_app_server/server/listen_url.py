"""``--listen`` values: ``stdio://``, ``ws://IP:PORT``, ``unix://[PATH]`` and ``off``; and
``--metrics-listen IP:PORT``.

Owns: parsing them, with the reference's wording for a bad ``--listen``. Kept apart from ``listen.py``
(which runs the listeners) so that the command line parses ``--listen`` without importing
asyncio or the server. Layer: server; imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


class ListenError(ValueError):
    """An unusable ``--listen`` value; the message is the reference's wording."""


@dataclass(frozen=True, slots=True)
class ListenTarget:
    kind: Literal["stdio", "ws", "unix", "off"]
    host: str = ""
    port: int = 0
    path: str | None = None

    @property
    def address(self) -> str:
        """``host:port`` as the reference prints it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        loopback: bool = _ip_address(self.host).is_loopback
        return loopback


def parse_listen(text: str) -> ListenTarget:
    if text in ("stdio://", "stdio"):
        return ListenTarget("stdio")
    if text == "off":
        return ListenTarget("off")
    if text.startswith("unix://"):
        path = text[len("unix://") :]
        return ListenTarget("unix", path=path or None)
    if text.startswith("ws://"):
        invalid = ListenError(f"invalid websocket --listen URL `{text}`; expected `ws://IP:PORT`")
        return _tcp_target(text[len("ws://") :], invalid)
    raise ListenError(
        f"unsupported --listen URL `{text}`; expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, or `off`"
    )


def parse_metrics_listen(text: str) -> ListenTarget:
    """``--metrics-listen IP:PORT`` (IPv6 in brackets; port 0 picks one)."""
    invalid = ListenError(
        f"invalid --metrics-listen address `{text}`; expected `IP:PORT`, e.g. `127.0.0.1:9464` or `[::1]:9464`"
    )
    return _tcp_target(text, invalid)


def _tcp_target(text: str, invalid: ListenError) -> ListenTarget:
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise invalid
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = _ip_address(host)
    except ValueError:
        raise invalid from None
    port = int(port_text)
    if port > 65535:
        raise invalid
    return ListenTarget("ws", host=str(address), port=port)


def _ip_address(text: str) -> Any:
    import ipaddress  # only WebSocket listeners need it

    return ipaddress.ip_address(text)
