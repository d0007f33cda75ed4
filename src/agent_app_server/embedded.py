"""The embedded API: an app server of ours inside this Python process, driven by a client over the
in-memory transport pair (no subprocess, no socket).

Owns: composing :class:`~agent_app_server.server.AppServer` with
:class:`~agent_app_server.client.AsyncClient`: the server's lifetime is the client's.
Layer: above ``server`` and ``client`` (imports both; nothing below imports this module).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from .client import AsyncClient, ClientOptions
from .rpc import PeerLimits
from .transport import memory_pair

if TYPE_CHECKING:
    from .core.config import Config


async def connect_embedded(
    codex_home: str | Path | None = None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    options: ClientOptions | None = None,
    limits: PeerLimits | None = None,
    idle_unload_after_s: float | None = None,
) -> AsyncClient:
    """Open an in-process server on ``codex_home`` (default: ``$CODEX_HOME`` or ``~/.codex``) with
    ``-c``-style ``overrides``, and return an initialized client connected to it. Closing the
    client shuts the server down (running turns end ``interrupted``, the store is flushed).

    ``limits`` bounds the server side of the connection (e.g. ``max_pending_requests``).
    """
    from .server import AppServer

    config = await asyncio.to_thread(load_embedded_config, codex_home, overrides)
    app = await AppServer.open(config)
    app.idle_unload_after_s = idle_unload_after_s
    app.start_background()
    server_end, client_end = memory_pair()

    async def serve() -> None:
        try:
            await app.serve(server_end, limits)
        finally:
            # The client sees the end of its input, as from a process that exited.
            await server_end.close()

    serving = asyncio.get_running_loop().create_task(serve(), name="embedded-app-server")

    async def shut_down() -> None:
        # The client closed its end; the server's connection drains and ends on its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(serving), 15)
        if not serving.done():
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await serving
        await app.close()

    return await AsyncClient.over_stream(client_end, options=options, on_close=shut_down)


def load_embedded_config(codex_home: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """The configuration an embedded server runs with (raises ``ConfigError`` saying what to fix)."""
    from .core.config import codex_home_from_env, load_config

    home = Path(codex_home).expanduser().absolute() if codex_home is not None else codex_home_from_env()
    return load_config(home, list(overrides))
