"""MCP servers from ``config.toml`` (``[mcp_servers.NAME]``), through the official ``mcp`` SDK.

Owns: reading the server tables (stdio ``command``/``args``/``env``/``cwd`` or streamable HTTP
``url`` with ``bearer_token_env_var``/``http_headers``; ``enabled``, ``enabled_tools``,
``disabled_tools``, ``startup_timeout_sec``, ``tool_timeout_sec``,
``default_tools_approval_mode`` and per-tool ``tools.<name>.approval_mode``), one live
connection per server per thread (as the reference: started with the thread, reported with
``mcpServer/startupStatus/updated``), the tools offered to the model (a ``mcp__<server>``
namespace on the Responses API, ``mcp__<server>__<tool>`` functions on Chat Completions),
``mcpToolCall`` items with the reference's approval prompt (``mcpServer/elicitation/request``),
and the data behind ``mcpServerStatus/list`` and ``mcpServer/tool/call``.

The SDK is heavy (about a second to import) and uses anyio task groups, so it is imported in a
worker thread only when a server is configured, and each connection lives in its own task that
enters and leaves the SDK's context managers.
Layer: core.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .output import bound_output

if TYPE_CHECKING:
    from ..config import Config
    from ..threads import EventSink, LoadedThread
    from ..turns import TurnRunner

log = logging.getLogger(__name__)

NAMESPACE_PREFIX = "mcp__"
DEFAULT_STARTUP_TIMEOUT_S = 10.0
DEFAULT_TOOL_TIMEOUT_S = 60.0
NEVER_MESSAGE = "MCP tool call requires approval, but approval policy is never"
DECLINED_MESSAGE = "user rejected MCP tool call"


class McpError(Exception):
    """A configured server cannot be reached or used; the message names the server."""


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else default


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    """One ``[mcp_servers.NAME]`` table."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    tool_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    approval_mode: str = "auto"
    tool_approval: dict[str, str] = field(default_factory=dict)
    #: The installed plugin that brings this server (``plugin@marketplace``); None: config.toml's.
    plugin_id: str | None = None
    #: Where ``mcpServer/oauth/login`` keeps tokens (``core.mcp_oauth``); None: not looked for.
    oauth_state_dir: str | None = None

    @classmethod
    def from_table(
        cls, name: str, table: dict[str, Any], environ: dict[str, str] | None = None, plugin_id: str | None = None
    ) -> McpServerConfig:
        env = os.environ if environ is None else environ
        headers = {str(k): str(v) for k, v in (table.get("http_headers") or {}).items()}
        for header, variable in (table.get("env_http_headers") or {}).items():
            if env.get(str(variable)):
                headers[str(header)] = env[str(variable)]
        token_var = table.get("bearer_token_env_var")
        if isinstance(token_var, str) and env.get(token_var):
            headers["Authorization"] = f"Bearer {env[token_var]}"
        enabled_tools = table.get("enabled_tools")
        tools = table.get("tools") if isinstance(table.get("tools"), dict) else {}
        return cls(
            name=name,
            command=str(table["command"]) if table.get("command") else None,
            args=tuple(_strings(table.get("args"))),
            env={str(k): str(v) for k, v in (table.get("env") or {}).items()},
            cwd=str(table["cwd"]) if table.get("cwd") else None,
            url=str(table["url"]) if table.get("url") else None,
            headers=headers,
            enabled=table.get("enabled", True) is not False,
            enabled_tools=tuple(_strings(enabled_tools)) if isinstance(enabled_tools, list) else None,
            disabled_tools=tuple(_strings(table.get("disabled_tools"))),
            startup_timeout_s=_number(table.get("startup_timeout_sec"), DEFAULT_STARTUP_TIMEOUT_S),
            tool_timeout_s=_number(table.get("tool_timeout_sec"), DEFAULT_TOOL_TIMEOUT_S),
            approval_mode=str(table.get("default_tools_approval_mode") or "auto"),
            tool_approval={
                str(tool): str(spec.get("approval_mode"))
                for tool, spec in (tools or {}).items()
                if isinstance(spec, dict) and spec.get("approval_mode")
            },
            plugin_id=plugin_id,
        )

    def tool_allowed(self, tool: str) -> bool:
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return tool not in self.disabled_tools


def configured_servers(config: Config) -> dict[str, McpServerConfig]:
    """``[mcp_servers]`` of config.toml, then those of installed plugins (config.toml wins a name)."""
    tables = config.values.get("mcp_servers")
    entries: list[tuple[str, Any, str | None]] = []
    if isinstance(tables, dict):
        entries += [(str(name), table, None) for name, table in tables.items()]
    entries += [(name, table, plugin_id) for name, (plugin_id, table) in config.plugin_mcp_servers.items()]
    servers: dict[str, McpServerConfig] = {}
    for name, table, plugin_id in entries:
        if name not in servers and isinstance(table, dict) and (table.get("command") or table.get("url")):
            server = dataclasses.replace(
                McpServerConfig.from_table(name, table, plugin_id=plugin_id), oauth_state_dir=str(config.state_dir)
            )
            if server.enabled:
                servers[server.name] = server
    return servers


def sanitize_schema(schema: Any) -> dict[str, Any]:
    """An input schema the model APIs accept: an object schema without ``title`` noise."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "title":
                    continue
                if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
                    out[key] = {name: clean(sub) for name, sub in value.items()}
                else:
                    out[key] = clean(value)
            return out
        if isinstance(node, list):
            return [clean(item) for item in node]
        return node

    cleaned = clean(schema) if isinstance(schema, dict) else {}
    cleaned.setdefault("type", "object")
    if cleaned.get("type") == "object":
        cleaned.setdefault("properties", {})
    return cleaned


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True) if model is not None else None


def _load_sdk() -> dict[str, Any]:
    """Import the SDK pieces (blocking, ~1 s: call in a worker thread)."""
    return {
        "session": importlib.import_module("mcp.client.session"),
        "stdio": importlib.import_module("mcp.client.stdio"),
        "http": importlib.import_module("mcp.client.streamable_http"),
        "httpx_utils": importlib.import_module("mcp.shared._httpx_utils"),
        "types": importlib.import_module("mcp_types"),
        "anyio": importlib.import_module("anyio"),
    }


class McpConnection:
    """One live client session with one server; the session lives in its own task."""

    def __init__(self, config: McpServerConfig) -> None:
        self.config = config
        self.status = "starting"
        self.error: str | None = None
        self.tools: list[dict[str, Any]] = []
        #: What the server can be read for (when it offers resources), as wire JSON.
        self.resources: list[dict[str, Any]] = []
        self.resource_templates: list[dict[str, Any]] = []
        self.server_info: dict[str, Any] | None = None
        self.capabilities: Any = None
        self._session: Any = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, sdk: dict[str, Any]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(sdk), name=f"mcp-{self.config.name}")

    async def wait_ready(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), self.config.startup_timeout_s + 5)
        if not self._ready.is_set():
            self.status, self.error = "failed", f"MCP server `{self.config.name}` did not start in time"

    async def _run(self, sdk: dict[str, Any]) -> None:
        config = self.config
        anyio = sdk["anyio"]
        try:
            async with contextlib.AsyncExitStack() as stack:
                if config.url:
                    auth = None
                    if "Authorization" not in config.headers and config.oauth_state_dir is not None:
                        # Logged in with mcpServer/oauth/login: the SDK sends (and refreshes) the token.
                        from ..mcp_oauth import TokenFile, stored_auth

                        auth = await stored_auth(TokenFile(Path(config.oauth_state_dir)), config.name, config.url)
                    client = sdk["httpx_utils"].create_mcp_http_client(headers=config.headers or None, auth=auth)
                    await stack.enter_async_context(client)
                    streams = await stack.enter_async_context(
                        sdk["http"].streamable_http_client(config.url, http_client=client)
                    )
                else:
                    params = sdk["stdio"].StdioServerParameters(
                        command=config.command or "", args=list(config.args), env=config.env or None, cwd=config.cwd
                    )
                    streams = await stack.enter_async_context(sdk["stdio"].stdio_client(params))
                read, write = streams[0], streams[1]
                info = sdk["types"].Implementation(name="agent-app-server", version="0.169.0")
                session = await stack.enter_async_context(sdk["session"].ClientSession(read, write, client_info=info))
                with anyio.fail_after(config.startup_timeout_s):
                    result = await session.initialize()
                    tools: list[dict[str, Any]] = []
                    cursor = None
                    while True:
                        params_model = sdk["types"].PaginatedRequestParams(cursor=cursor) if cursor else None
                        listing = await session.list_tools(params=params_model)
                        tools += [_dump(tool) for tool in listing.tools]
                        cursor = listing.next_cursor
                        if not cursor:
                            break
                    if getattr(result.capabilities, "resources", None) is not None:
                        await self._list_resources(session, sdk)
                self.server_info = _dump(result.server_info)
                self.capabilities = _dump(result.capabilities)
                self.tools = [tool for tool in tools if config.tool_allowed(str(tool.get("name")))]
                self._session = session
                self.status = "ready"
                self._ready.set()
                await self._stop.wait()
        except Exception as exc:  # the SDK raises many kinds; any of them means "not usable"
            self.status = "failed"
            self.error = _describe_failure(config, exc)
            log.warning("MCP server %s: %s", config.name, self.error)
        finally:
            self._session = None
            self._ready.set()

    async def _list_resources(self, session: Any, sdk: dict[str, Any]) -> None:
        """Every resource and resource template, all pages; a server that fails to list them keeps
        its tools (resources are optional)."""
        try:
            for method, attribute, target in (
                (session.list_resources, "resources", self.resources),
                (session.list_resource_templates, "resource_templates", self.resource_templates),
            ):
                cursor = None
                while True:
                    page: Any = sdk["types"].PaginatedRequestParams(cursor=cursor) if cursor else None
                    listing = await method(params=page)
                    target += [_dump(entry) for entry in getattr(listing, attribute)]
                    cursor = listing.next_cursor
                    if not cursor:
                        break
        except Exception as exc:
            log.warning("MCP server %s: listing resources failed: %s", self.config.name, exc)

    async def read_resource(self, uri: str) -> dict[str, Any]:
        """The ``ReadResourceResult`` as wire JSON; raises :class:`McpError` when the read fails."""
        return await self._request(f"reading {uri}", lambda session: session.read_resource(uri))

    async def call_tool(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """The tool's ``CallToolResult`` as wire JSON; raises :class:`McpError` when the call fails."""
        return await self._request("tool call", lambda session: session.call_tool(tool, arguments or {}))

    async def _request(self, what: str, send: Callable[[Any], Awaitable[Any]]) -> dict[str, Any]:
        """One request on the connected session, bounded by the server's tool timeout, its result
        as wire JSON; every failure becomes an :class:`McpError` that says what to change."""
        session = self._session
        if session is None:
            raise McpError(self.error or f"MCP server `{self.config.name}` is not connected")
        try:
            result = await asyncio.wait_for(send(session), self.config.tool_timeout_s)
        except TimeoutError:
            raise McpError(
                f"{what} timed out after {self.config.tool_timeout_s:g} s (raise tool_timeout_sec in "
                f"[mcp_servers.{self.config.name}])"
            ) from None
        except Exception as exc:
            raise McpError(str(exc) or type(exc).__name__) from None
        dumped: dict[str, Any] = _dump(result)
        return dumped

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)


def _describe_failure(config: McpServerConfig, exc: BaseException) -> str:
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(exc)
    detail = "; ".join(str(leaf) or type(leaf).__name__ for leaf in leaves[:3]) or type(exc).__name__
    where = config.url or " ".join([config.command or "", *config.args]).strip()
    return f"MCP server `{config.name}` ({where}) failed to start: {detail}"


@dataclass(eq=False)
class ThreadMcp:
    """A thread's connections, one per configured server."""

    connections: dict[str, McpConnection]
    approved: set[tuple[str, str]] = field(default_factory=set)
    started: asyncio.Task[None] | None = None


class McpManager:
    """Every configured MCP server, connected per thread."""

    def __init__(self, config: Config, sink: EventSink) -> None:
        self._servers = configured_servers(config)
        self._sink = sink
        self._sdk: dict[str, Any] | None = None
        self._sdk_lock = asyncio.Lock()
        self._threads: dict[str, ThreadMcp] = {}

    @property
    def configured(self) -> bool:
        return bool(self._servers)

    def reconfigure(self, config: Config) -> None:
        """Use ``config``'s ``[mcp_servers]`` for connections started from now on; threads keep
        the connections they have until they are unloaded (``config:reload``)."""
        self._servers = configured_servers(config)

    async def _load(self) -> dict[str, Any]:
        async with self._sdk_lock:
            if self._sdk is None:
                self._sdk = await asyncio.to_thread(_load_sdk)
            return self._sdk

    # ------------------------------------------------------------------ per thread

    def ensure_started(self, thread: LoadedThread) -> ThreadMcp | None:
        """Connect the thread's servers (once), reporting progress to its subscribers."""
        if not self._servers:
            return None
        state = self._threads.get(thread.id)
        if state is None:
            state = ThreadMcp({name: McpConnection(server) for name, server in self._servers.items()})
            self._threads[thread.id] = state
            state.started = asyncio.get_running_loop().create_task(self._start(thread.id, state))
        return state

    async def _start(self, thread_id: str, state: ThreadMcp) -> None:
        for name in state.connections:
            self._status(thread_id, name, "starting", None)
        try:
            sdk = await self._load()
        except ImportError as exc:
            for name, connection in state.connections.items():
                connection.status = "failed"
                connection.error = f"the `mcp` package is not installed ({exc}); install it to use MCP servers"
                self._status(thread_id, name, "failed", connection.error)
            return
        for connection in state.connections.values():
            connection.start(sdk)
        await asyncio.gather(*(connection.wait_ready() for connection in state.connections.values()))
        for name, connection in state.connections.items():
            status = "ready" if connection.status == "ready" else "failed"
            self._status(thread_id, name, status, connection.error)

    def _status(self, thread_id: str, name: str, status: str, error: str | None) -> None:
        self._sink.emit(
            thread_id,
            "mcpServer/startupStatus/updated",
            {"threadId": thread_id, "name": name, "status": status, "error": error, "failureReason": None},
        )

    async def ready(self, thread: LoadedThread) -> ThreadMcp | None:
        state = self.ensure_started(thread)
        if state is not None and state.started is not None:
            await asyncio.shield(state.started)
        return state

    # ------------------------------------------------------------------ model tools

    def tool_specs(self, thread: LoadedThread, wire_api: str) -> list[dict[str, Any]]:
        state = self._threads.get(thread.id)
        if state is None:
            return []
        specs: list[dict[str, Any]] = []
        for name in sorted(state.connections):
            connection = state.connections[name]
            if connection.status != "ready" or not connection.tools:
                continue
            functions = [
                {
                    "type": "function",
                    "name": str(tool["name"]),
                    "description": str(tool.get("description") or ""),
                    "strict": False,
                    "parameters": sanitize_schema(tool.get("inputSchema")),
                }
                for tool in sorted(connection.tools, key=lambda tool: str(tool["name"]))
            ]
            namespace = f"{NAMESPACE_PREFIX}{name}"
            if wire_api == "chat":
                specs += [dict(function, name=f"{namespace}__{function['name']}") for function in functions]
            else:
                specs.append(
                    {
                        "type": "namespace",
                        "name": namespace,
                        "description": f"Tools in the {namespace} namespace.",
                        "tools": functions,
                    }
                )
        return specs

    def find(self, thread: LoadedThread, name: str, namespace: str | None) -> tuple[str, str] | None:
        """``(server, tool)`` a model call refers to, or None."""
        state = self._threads.get(thread.id)
        if state is None:
            return None
        for server, connection in state.connections.items():
            prefix = f"{NAMESPACE_PREFIX}{server}"
            for tool in connection.tools:
                tool_name = str(tool["name"])
                if (namespace == prefix and name == tool_name) or (
                    namespace is None and name == f"{prefix}__{tool_name}"
                ):
                    return server, tool_name
        return None

    async def call_from_model(
        self, runner: TurnRunner, call_id: str, server: str, tool: str, arguments: Any
    ) -> str | list[dict[str, Any]]:
        from . import approvals

        state = self._threads[runner.thread_id]
        connection = state.connections[server]
        spec = next((entry for entry in connection.tools if entry.get("name") == tool), {})
        annotations = spec.get("annotations") if isinstance(spec.get("annotations"), dict) else {}
        read_only = annotations.get("readOnlyHint") if isinstance(annotations, dict) else None
        item: dict[str, Any] = {
            "type": "mcpToolCall",
            "id": call_id,
            "server": server,
            "tool": tool,
            "status": "inProgress",
            "arguments": arguments,
            "appContext": None,
            "mcpAppUi": None,
            "readOnlyHint": read_only if isinstance(read_only, bool) else None,
            "result": None,
            "error": None,
            "durationMs": None,
        }
        runner.item_started(item)
        started = time.monotonic()

        def fail(message: str) -> list[dict[str, Any]]:
            duration = int((time.monotonic() - started) * 1000)
            runner.item_completed(dict(item, status="failed", error={"message": message}, durationMs=duration))
            return [
                {"type": "input_text", "text": f"Wall time: {time.monotonic() - started:.4f} seconds\nOutput:"},
                {"type": "input_text", "text": message},
            ]

        mode = connection.config.tool_approval.get(tool, connection.config.approval_mode)
        needs = mode == "prompt" or (mode not in ("approve",) and read_only is not True)
        if needs and (server, tool) not in state.approved:
            policy = runner.thread.settings.approval_policy
            kind = approvals.policy_kind(policy)
            if kind == "never" or (kind == "granular" and not approvals.granular_flag(policy, "mcp_elicitations")):
                return fail(NEVER_MESSAGE)
            approvals.set_waiting(runner, True)
            action, persist = await _ask_tool_approval(runner, server, tool, spec, arguments)
            if action == "cancel":
                runner.item_completed(dict(item, status="failed", error={"message": DECLINED_MESSAGE}))
                raise approvals.ApprovalCancelled()
            if action != "accept":
                return fail(DECLINED_MESSAGE)
            if persist:
                state.approved.add((server, tool))
        try:
            result = await connection.call_tool(tool, arguments if isinstance(arguments, dict) else None)
        except McpError as exc:
            return fail(str(exc))
        duration = int((time.monotonic() - started) * 1000)
        wire_result = {
            "content": result.get("content") or [],
            "structuredContent": result.get("structuredContent"),
            "_meta": result.get("_meta"),
        }
        runner.item_completed(
            dict(
                item,
                status="failed" if result.get("isError") else "completed",
                result=wire_result,
                durationMs=duration,
            )
        )
        bounded: str | list[dict[str, Any]] = bound_output(model_output(result, time.monotonic() - started))
        return bounded

    # ------------------------------------------------------------------ client methods

    async def status_list(self, thread: LoadedThread | None, server_name: str | None) -> list[dict[str, Any]]:
        """``McpServerStatus`` for each configured server (connecting just to list when needed)."""
        names = [name for name in sorted(self._servers) if server_name is None or name == server_name]
        state = self._threads.get(thread.id) if thread is not None else None
        if state is not None and state.started is not None:
            await asyncio.shield(state.started)
        out = []
        temporary: list[McpConnection] = []
        try:
            for name in names:
                connection = state.connections.get(name) if state is not None else None
                runtime: str | None = None
                if connection is None:
                    connection = McpConnection(self._servers[name])
                    connection.start(await self._load())
                    temporary.append(connection)
                    await connection.wait_ready()
                else:
                    runtime = "connected" if connection.status == "ready" else "failed"
                out.append(_status_wire(connection, runtime))
        finally:
            await asyncio.gather(*(connection.aclose() for connection in temporary), return_exceptions=True)
        return out

    def server_names(self) -> list[str]:
        return sorted(self._servers)

    async def read_resource(self, thread: LoadedThread | None, server: str, uri: str) -> dict[str, Any]:
        """Read ``uri`` from ``server``: through the thread's connection when it has one, else
        through a connection opened for this read."""
        if server not in self._servers:
            raise McpError(f"unknown MCP server '{server}'; configure [mcp_servers.{server}] in config.toml")
        state = self._threads.get(thread.id) if thread is not None else None
        if state is not None and state.started is not None:
            await asyncio.shield(state.started)
        connection = state.connections.get(server) if state is not None else None
        if connection is not None:
            return await connection.read_resource(uri)
        temporary = McpConnection(self._servers[server])
        temporary.start(await self._load())
        try:
            await temporary.wait_ready()
            return await temporary.read_resource(uri)
        finally:
            await temporary.aclose()

    def connection(self, thread_id: str, server: str) -> McpConnection:
        state = self._threads.get(thread_id)
        if server not in self._servers:
            raise McpError(f"unknown MCP server '{server}'")
        if state is None or server not in state.connections:
            raise McpError(f"MCP server '{server}' is not started for thread {thread_id}")
        return state.connections[server]

    async def forget_thread(self, thread_id: str) -> None:
        state = self._threads.pop(thread_id, None)
        if state is not None:
            await asyncio.gather(*(c.aclose() for c in state.connections.values()), return_exceptions=True)

    async def aclose(self) -> None:
        for thread_id in list(self._threads):
            await self.forget_thread(thread_id)


async def _ask_tool_approval(
    runner: TurnRunner, server: str, tool: str, spec: dict[str, Any], arguments: Any
) -> tuple[str, bool]:
    """The reference's MCP tool approval: an ``mcpServer/elicitation/request`` form."""
    from ...rpc import RemoteError
    from . import approvals

    shown = arguments if isinstance(arguments, dict) else {}
    params = {
        "threadId": runner.thread_id,
        "turnId": runner.turn_id,
        "serverName": server,
        "mode": "form",
        "_meta": {
            "codex_approval_kind": "mcp_tool_call",
            "persist": ["session", "always"],
            "tool_name": tool,
            "tool_description": spec.get("description"),
            "tool_params": shown,
            "tool_params_display": [{"name": key, "value": value, "display_name": key} for key, value in shown.items()],
        },
        "message": f'Allow the {server} MCP server to run tool "{tool}"?',
        "requestedSchema": {"type": "object", "properties": {}},
    }
    try:
        answer = await runner.engine.sink.request(runner.thread_id, "mcpServer/elicitation/request", params)
    except RemoteError:
        answer = None
    approvals.set_waiting(runner, False)
    action = answer.get("action") if isinstance(answer, dict) else None
    meta = answer.get("_meta") if isinstance(answer, dict) else None
    persist = isinstance(meta, dict) and meta.get("persist") in ("session", "always")
    return (str(action) if action in ("accept", "decline", "cancel") else "decline"), persist


def model_output(result: dict[str, Any], wall_s: float) -> str | list[dict[str, Any]]:
    """What the model gets for a tool result (the reference's shapes)."""
    header = f"Wall time: {wall_s:.4f} seconds\nOutput:"
    structured = result.get("structuredContent")
    if structured is not None and not result.get("isError"):
        return f"{header}\n{json.dumps(structured, separators=(',', ':'), ensure_ascii=False)}"
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": header}]
    for block in result.get("content") or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "input_text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(
                {
                    "type": "input_image",
                    "image_url": f"data:{block.get('mimeType', 'image/png')};base64,{block.get('data', '')}",
                }
            )
        elif block is not None:
            parts.append({"type": "input_text", "text": json.dumps(block, ensure_ascii=False)})
    return parts


#: The wire fields of the reference's ``Resource`` and ``ResourceTemplate``.
_RESOURCE_KEYS = ("name", "uri", "title", "description", "mimeType", "size", "icons", "annotations", "_meta")
_TEMPLATE_KEYS = ("name", "uriTemplate", "title", "description", "mimeType", "annotations")


def _pick(entry: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: entry[key] for key in keys if key in entry}


def _status_wire(connection: McpConnection, runtime: str | None) -> dict[str, Any]:
    config = connection.config
    tools = {}
    for tool in connection.tools:
        entry = {
            key: tool[key]
            for key in ("name", "title", "description", "inputSchema", "outputSchema", "annotations", "icons", "_meta")
            if key in tool
        }
        tools[str(tool["name"])] = entry
    origin = None
    if config.url:
        from urllib.parse import urlsplit

        parts = urlsplit(config.url)
        origin = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return {
        "name": config.name,
        "runtimeStatus": runtime,
        "pluginId": config.plugin_id,
        "httpOrigin": origin,
        "serverInfo": connection.server_info,
        "serverCapabilities": connection.capabilities,
        "toolListMeta": None,
        "tools": tools,
        "toolsError": connection.error if connection.status != "ready" else None,
        "resources": [_pick(entry, _RESOURCE_KEYS) for entry in connection.resources],
        "resourceTemplates": [_pick(entry, _TEMPLATE_KEYS) for entry in connection.resource_templates],
        "authStatus": "bearerToken" if "Authorization" in config.headers else "unsupported",
    }
