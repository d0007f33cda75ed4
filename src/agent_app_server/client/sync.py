"""``Client``: the synchronous face of :class:`~agent_app_server.client.AsyncClient`.

Owns: an event loop on a private daemon thread that runs the async client; each call blocks the
caller until its coroutine finishes there. Handlers are plain functions, run on worker threads so a
slow one never stalls the connection. Layer: client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._methods import SyncMethods
from .core import AsyncClient, TurnHandle

if TYPE_CHECKING:
    from ..protocol.server_requests import (
        CommandExecutionRequestApprovalParams,
        CommandExecutionRequestApprovalResponse,
        DynamicToolCallParams,
        DynamicToolCallResponse,
        FileChangeRequestApprovalParams,
        FileChangeRequestApprovalResponse,
        ToolRequestUserInputParams,
        ToolRequestUserInputResponse,
    )
    from ..protocol.threads import Turn
    from .events import Event

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")


def _in_thread(handler: Callable[[P], R]) -> Callable[[P], Awaitable[R]]:
    async def run(params: P) -> R:
        return await asyncio.to_thread(handler, params)

    return run


class Client(SyncMethods):
    """Blocking calls on an :class:`AsyncClient`. Create with :meth:`spawn`, :meth:`connect` or
    :meth:`over` (any coroutine making an ``AsyncClient``, e.g. ``embedded.connect_embedded``)."""

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, AsyncClient]]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agent-app-server-client", daemon=True)
        self._thread.start()
        try:
            self.async_client = self._run(factory())
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def spawn(cls, command: Sequence[str] | None = None, **kwargs: Any) -> Client:
        return cls(lambda: AsyncClient.spawn(command, **kwargs))

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> Client:
        return cls(lambda: AsyncClient.connect(url, **kwargs))

    @classmethod
    def over(cls, factory: Callable[[], Coroutine[Any, Any, AsyncClient]]) -> Client:
        return cls(factory)

    def _run(self, awaitable: Awaitable[T]) -> T:
        async def run() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()

    def _typed(self, method: str, params: Any, fields: dict[str, Any]) -> Any:
        return self._run(self.async_client._typed(method, params, fields))

    def request(self, method: str, params: Any = None) -> Any:
        return self._run(self.async_client.request(method, params))

    def start_thread(self, **fields: Any) -> str:
        """``thread/start``; returns the thread id."""
        return self._run(self.async_client.start_thread(**fields)).id

    def turn(self, thread_id: str, text: str, **fields: Any) -> SyncTurn:
        return SyncTurn(self, self._run(self.async_client.thread(thread_id).turn(text, **fields)))

    def run_turn(self, thread_id: str, text: str, **fields: Any) -> Turn:
        """Start a turn and wait for it (a failed turn raises its typed ``TurnFailed``)."""
        return self.turn(thread_id, text, **fields).wait(check=True)

    # Handlers: plain functions, run on worker threads.

    def set_request_handler(self, method: str, handler: Callable[[Any], Any]) -> None:
        self.async_client.set_request_handler(method, _in_thread(handler))

    def on_command_approval(
        self,
        handler: Callable[[CommandExecutionRequestApprovalParams], CommandExecutionRequestApprovalResponse | str],
    ) -> None:
        self.async_client.on_command_approval(_in_thread(handler))

    def on_file_change_approval(
        self, handler: Callable[[FileChangeRequestApprovalParams], FileChangeRequestApprovalResponse | str]
    ) -> None:
        self.async_client.on_file_change_approval(_in_thread(handler))

    def on_dynamic_tool_call(self, handler: Callable[[DynamicToolCallParams], DynamicToolCallResponse]) -> None:
        self.async_client.on_dynamic_tool_call(_in_thread(handler))

    def on_user_input(self, handler: Callable[[ToolRequestUserInputParams], ToolRequestUserInputResponse]) -> None:
        self.async_client.on_user_input(_in_thread(handler))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._run(self.async_client.aclose())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        # As asyncio.run ends a loop: what is still running (e.g. an embedded server's child
        # processes being reaped) is cancelled and finishes before the loop closes.
        with contextlib.suppress(Exception):
            self._run(_finish_other_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _finish_other_tasks() -> None:
    me = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not me]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
    # A few turns of the loop let transports whose processes ended close themselves.
    for _ in range(3):
        await asyncio.sleep(0)


class SyncTurn:
    """A turn seen synchronously: iterate its events, or wait for its end."""

    def __init__(self, client: Client, handle: TurnHandle) -> None:
        self._client = client
        self.handle = handle
        self.id = handle.id

    def events(self) -> Iterator[Event]:
        events = self.handle.events()
        while True:
            try:
                yield self._client._run(events.__anext__())
            except StopAsyncIteration:
                return

    def wait(self, *, check: bool = False) -> Turn:
        return self._client._run(self.handle.wait(check=check))

    def final_message(self) -> str | None:
        return self.handle.final_message()
