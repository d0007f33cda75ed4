"""OAuth for MCP servers: ``mcpServer/oauth/login`` and the tokens it leaves behind.

Owns: the login (the ``mcp`` SDK's OAuth client does discovery, dynamic client registration,
PKCE and the token exchange; this module gives it a loopback callback server for the browser's
redirect and a place to keep what it obtains), the token file
(``agent-app-server/mcp_oauth.json`` under ``$CODEX_HOME``, mode 0600, one entry per server name
and URL), and the SDK auth that later connections to that server use (bearer token, refreshed by
the SDK when it expires).
Layer: core.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..rpc.errors import InternalError, InvalidParams
from .auth import read_callback_request, respond_page
from .config_edit import atomic_write

__all__ = ["McpLogin", "McpOAuthLogins", "TokenFile", "server_for_login", "stored_auth"]

TOKENS_FILE = "mcp_oauth.json"
#: How long a login waits for the browser when the client gives no ``timeoutSecs``.
DEFAULT_TIMEOUT_S = 300
#: How long ``mcpServer/oauth/login`` waits for the authorization URL before answering.
URL_TIMEOUT_S = 30
CALLBACK_PATH = "/callback"
_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "agent-app-server", "version": "1"},
    },
}


class TokenFile:
    """The OAuth tokens and client registrations of MCP servers, by name and URL."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / TOKENS_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def entry(self, name: str, url: str) -> dict[str, Any]:
        found = self._read().get(_key(name, url))
        return found if isinstance(found, dict) else {}

    def update(self, name: str, url: str, **values: Any) -> None:
        data = self._read()
        data[_key(name, url)] = {**data.get(_key(name, url), {}), **values}
        atomic_write(self.path, json.dumps(data, indent=2))
        os.chmod(self.path, 0o600)

    def has_tokens(self, name: str, url: str) -> bool:
        return isinstance(self.entry(name, url).get("tokens"), dict)


def _key(name: str, url: str) -> str:
    return f"{name}|{url}"


class _Storage:
    """The SDK's ``TokenStorage`` over :class:`TokenFile` (file work in a worker thread)."""

    def __init__(self, file: TokenFile, name: str, url: str, sdk: dict[str, Any]) -> None:
        self._file, self._name, self._url, self._sdk = file, name, url, sdk

    async def get_tokens(self) -> Any:
        tokens = (await asyncio.to_thread(self._file.entry, self._name, self._url)).get("tokens")
        return None if tokens is None else self._sdk["auth"].OAuthToken.model_validate(tokens)

    async def set_tokens(self, tokens: Any) -> None:
        await asyncio.to_thread(self._file.update, self._name, self._url, tokens=tokens.model_dump(mode="json"))

    async def get_client_info(self) -> Any:
        info = (await asyncio.to_thread(self._file.entry, self._name, self._url)).get("clientInfo")
        return None if info is None else self._sdk["auth"].OAuthClientInformationFull.model_validate(info)

    async def set_client_info(self, client_info: Any) -> None:
        info = client_info.model_dump(mode="json", exclude_none=True)
        await asyncio.to_thread(self._file.update, self._name, self._url, clientInfo=info)


def _load_sdk() -> dict[str, Any]:
    return {
        "oauth": importlib.import_module("mcp.client.auth"),
        "auth": importlib.import_module("mcp.shared.auth"),
        "httpx_utils": importlib.import_module("mcp.shared._httpx_utils"),
    }


async def stored_auth(file: TokenFile, name: str, url: str) -> Any | None:
    """The SDK auth for a connection to a server logged in with OAuth (None: no tokens)."""
    if not await asyncio.to_thread(file.has_tokens, name, url):
        return None
    sdk = await asyncio.to_thread(_load_sdk)
    metadata = sdk["auth"].OAuthClientMetadata(redirect_uris=[f"http://127.0.0.1{CALLBACK_PATH}"])
    return sdk["oauth"].OAuthClientProvider(url, metadata, _Storage(file, name, url, sdk))


@dataclass
class McpLogin:
    login_id: str
    name: str
    thread_id: str | None
    authorization_url: str = ""
    #: Resolves with None (success) or the error text.
    done: asyncio.Future[str | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class McpOAuthLogins:
    """The MCP OAuth logins of one server process."""

    def __init__(self, state_dir: Path, callback_port: int = 0) -> None:
        self.tokens = TokenFile(state_dir)
        self.callback_port = callback_port
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        name: str,
        url: str,
        headers: dict[str, str],
        *,
        scopes: list[str] | None,
        timeout_s: float | None,
        thread_id: str | None,
    ) -> McpLogin:
        """Start a login; the caller shows ``authorization_url``; ``done`` resolves when it ends."""
        sdk = await asyncio.to_thread(_load_sdk)
        login = McpLogin(login_id=str(uuid.uuid4()), name=name, thread_id=thread_id)
        loop = asyncio.get_running_loop()
        url_ready: asyncio.Future[str] = loop.create_future()
        code_ready: asyncio.Future[Any] = loop.create_future()

        async def callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _serve_callback(reader, writer, code_ready, sdk)

        try:
            server = await asyncio.start_server(callback, "127.0.0.1", self.callback_port)
        except OSError as exc:
            raise InternalError(
                f"cannot start the OAuth callback server on 127.0.0.1:{self.callback_port} ({exc.strerror}); "
                "set `mcp_oauth_callback_port` in config.toml to a free port"
            ) from None
        port = server.sockets[0].getsockname()[1]
        redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"

        async def redirect_handler(authorization_url: str) -> None:
            if not url_ready.done():
                url_ready.set_result(authorization_url)

        async def callback_handler() -> Any:
            return await code_ready

        metadata = sdk["auth"].OAuthClientMetadata(
            client_name="agent-app-server",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope=" ".join(scopes) if scopes else None,
        )
        provider = sdk["oauth"].OAuthClientProvider(
            url,
            metadata,
            _Storage(self.tokens, name, url, sdk),
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )

        async def flow() -> None:
            client = sdk["httpx_utils"].create_mcp_http_client(headers=headers or None, auth=provider)
            async with client:
                response = await client.post(
                    url,
                    json=_INITIALIZE,
                    headers={"accept": "application/json, text/event-stream", "content-type": "application/json"},
                )
                if response.status_code in (401, 403):
                    raise RuntimeError(f"the server still refuses the login (HTTP {response.status_code})")

        async def run() -> None:
            error: str | None = None
            try:
                await asyncio.wait_for(flow(), timeout_s or DEFAULT_TIMEOUT_S)
                if not url_ready.done():
                    error = "the server did not ask for OAuth authorization"
            except TimeoutError:
                error = "timed out waiting for the authorization callback"
            except Exception as exc:  # the SDK's errors and network failures alike end the login
                error = str(exc) or type(exc).__name__
            finally:
                server.close()
            if not url_ready.done():
                url_ready.set_exception(RuntimeError(error or "no authorization was needed"))
            login.done.set_result(error)

        task = loop.create_task(run(), name=f"mcp-oauth-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            login.authorization_url = await asyncio.wait_for(asyncio.shield(url_ready), URL_TIMEOUT_S)
        except TimeoutError:
            task.cancel()
            raise InternalError(
                f"failed to login to MCP server '{name}': no authorization URL within {URL_TIMEOUT_S}s"
            ) from None
        except RuntimeError as exc:
            raise InternalError(f"failed to login to MCP server '{name}': {exc}") from None
        return login

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def _serve_callback(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, code_ready: asyncio.Future[Any], sdk: dict[str, Any]
) -> None:
    """The browser's redirect: ``GET /callback?code=…&state=…`` (or ``error=…``)."""
    try:
        request = await read_callback_request(reader, writer)
        if request is None:
            return
        path, query = request
        if path != CALLBACK_PATH:
            await respond_page(writer, 404, "Not found.")
            return
        if code_ready.done():
            await respond_page(writer, 410, "This login is no longer in progress.")
            return
        if "error" in query:
            message = query.get("error_description") or query["error"]
            code_ready.set_exception(RuntimeError(f"authorization failed: {message}"))
            await respond_page(writer, 200, f"Authorization failed: {message}")
            return
        if not query.get("code"):
            await respond_page(writer, 400, "Missing authorization code.")
            return
        code_ready.set_result(
            sdk["auth"].AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))
        )
        await respond_page(writer, 200, "Signed in to the MCP server. You can close this window.")
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def server_for_login(servers: dict[str, Any], name: str) -> tuple[str, dict[str, str]]:
    """The URL and headers of the configured server ``name`` (an ``McpServerConfig``), or the
    reference's refusals."""
    server = servers.get(name)
    if server is None:
        raise InvalidParams(f"No MCP server named '{name}' found.")
    if not server.url:
        raise InvalidParams("OAuth login is only supported for streamable HTTP servers.")
    return server.url, dict(server.headers)
