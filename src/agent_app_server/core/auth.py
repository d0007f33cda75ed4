"""Credentials for OpenAI-authenticated providers: API keys, ChatGPT tokens, and the login flows.

Owns: ``$CODEX_HOME/auth.json`` (the reference's format, written atomically with mode 0600), the
in-memory ``chatgptAuthTokens`` a host application supplies, the ChatGPT OAuth browser flow (PKCE
and a local callback server on 127.0.0.1) and the device-code flow against a configurable issuer
(``auth_issuer``), and refreshing tokens. Secrets never appear in any message or log this module
produces: errors name the step and the HTTP status, never a token or a response body.
Layer: core (imports nothing above ``store``; the HTTP client is imported on first use).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import importlib
import json
import logging
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

log = logging.getLogger(__name__)

AUTH_FILE_NAME = "auth.json"
DEFAULT_ISSUER = "https://auth.openai.com"
#: The public OAuth client id of Codex's ChatGPT login.
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
DEFAULT_CALLBACK_PORT = 1455
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"
SCOPES = "openid profile email offline_access"
LOGIN_TIMEOUT_S = 600.0
DEVICE_LOGIN_TIMEOUT_S = 900.0
HTTP_TIMEOUT_S = 30.0
_AUTH_CLAIMS = "https://api.openai.com/auth"
_PROFILE_CLAIMS = "https://api.openai.com/profile"
_MAX_REQUEST_BYTES = 16 * 1024


AuthMode = Literal["apikey", "chatgpt", "chatgptAuthTokens"]


class AuthError(Exception):
    """A login or refresh that failed; the message is safe to show (it holds no secret)."""


@dataclass(frozen=True, slots=True)
class AuthState:
    """The active credentials."""

    mode: AuthMode
    api_key: str | None = None
    access_token: str | None = None
    id_token: str | None = None
    refresh_token: str | None = None
    account_id: str | None = None
    email: str | None = None
    plan_type: str | None = None
    user_id: str | None = None

    @property
    def is_chatgpt(self) -> bool:
        return self.mode != "apikey"

    def __repr__(self) -> str:
        # Never print a secret, even by accident in a debug log.
        return f"AuthState(mode={self.mode!r}, account_id={self.account_id!r}, plan_type={self.plan_type!r})"


def normalize_plan(raw: Any) -> str:
    return raw if isinstance(raw, str) and raw in _plan_types() else "unknown"


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, without verifying it (the issuer is trusted to have signed it)."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        raise AuthError("the token is not a JWT (expected three dot-separated base64url parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        raise AuthError("the token is not a JWT (its payload is not base64url JSON)") from None
    if not isinstance(claims, dict):
        raise AuthError("the token is not a JWT (its payload is not a JSON object)")
    return claims


def _identity(*tokens: str | None) -> dict[str, str | None]:
    """Email, plan, account and user ids from the claims of the first tokens that carry them."""
    found: dict[str, str | None] = {"email": None, "plan_type": None, "account_id": None, "user_id": None}
    for token in tokens:
        if not token:
            continue
        try:
            claims = jwt_claims(token)
        except AuthError:
            continue
        raw_auth, raw_profile = claims.get(_AUTH_CLAIMS), claims.get(_PROFILE_CLAIMS)
        auth: dict[str, Any] = raw_auth if isinstance(raw_auth, dict) else {}
        profile: dict[str, Any] = raw_profile if isinstance(raw_profile, dict) else {}
        candidates = {
            "email": claims.get("email") or profile.get("email"),
            "plan_type": auth.get("chatgpt_plan_type"),
            "account_id": auth.get("chatgpt_account_id"),
            "user_id": auth.get("chatgpt_user_id") or auth.get("user_id"),
        }
        for key, value in candidates.items():
            if found[key] is None and isinstance(value, str) and value:
                found[key] = value
    return found


# ---------------------------------------------------------------------- auth.json


def auth_file(codex_home: Path) -> Path:
    return codex_home / AUTH_FILE_NAME


def read_auth_file(codex_home: Path) -> AuthState | None:
    """The saved credentials (blocking: call from a worker thread on the event loop)."""
    try:
        data = json.loads(auth_file(codex_home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    raw_tokens = data.get("tokens")
    tokens: dict[str, Any] | None = raw_tokens if isinstance(raw_tokens, dict) else None
    api_key = data.get("OPENAI_API_KEY") if isinstance(data.get("OPENAI_API_KEY"), str) else None
    mode = data.get("auth_mode")
    if tokens and isinstance(tokens.get("access_token"), str) and mode != "apikey":
        ident = _identity(tokens.get("id_token"), tokens.get("access_token"))
        return AuthState(
            mode="chatgpt",
            access_token=tokens["access_token"],
            id_token=tokens.get("id_token") if isinstance(tokens.get("id_token"), str) else None,
            refresh_token=tokens.get("refresh_token") if isinstance(tokens.get("refresh_token"), str) else None,
            account_id=tokens.get("account_id") if isinstance(tokens.get("account_id"), str) else ident["account_id"],
            email=ident["email"],
            plan_type=normalize_plan(ident["plan_type"]),
            user_id=ident["user_id"],
        )
    if api_key:
        return AuthState(mode="apikey", api_key=api_key)
    return None


def write_auth_file(codex_home: Path, state: AuthState) -> None:
    """Atomically replace auth.json (mode 0600 from its creation on: never readable by others)."""
    if state.mode == "apikey":
        data: dict[str, Any] = {"auth_mode": "apikey", "OPENAI_API_KEY": state.api_key, "tokens": None}
    else:
        data = {
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": state.api_key,
            "tokens": {
                "id_token": state.id_token,
                "access_token": state.access_token,
                "refresh_token": state.refresh_token,
                "account_id": state.account_id,
            },
        }
    data["last_refresh"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    codex_home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".auth.json.", dir=codex_home)  # mkstemp creates with mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, auth_file(codex_home))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def delete_auth_file(codex_home: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        auth_file(codex_home).unlink()


# ---------------------------------------------------------------------- pending logins


@dataclass
class PendingLogin:
    """A browser or device-code login that has not finished yet."""

    login_id: str
    kind: Literal["chatgpt", "chatgptDeviceCode"]
    auth_url: str = ""
    user_code: str = ""
    verification_url: str = ""
    task: asyncio.Task[None] | None = None
    server: asyncio.Server | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    verifier: str = ""
    state: str = ""
    redirect_uri: str = ""
    result: asyncio.Future[AuthState] | None = None


#: Called when a login ends: (login_id, error or None).
CompletionListener = Callable[[str, str | None], None]
#: Asks the host application for new tokens: previous account id → (access token, account id, plan).
ExternalRefresher = Callable[[str | None], Awaitable[tuple[str, str, str | None] | None]]


def _pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class AuthManager:
    """The process's credentials and its logins in progress.

    ``current`` is a cached view of auth.json plus the in-memory host tokens (which win, as in the
    reference); ``reload()`` re-reads the file in a worker thread.
    """

    def __init__(
        self,
        codex_home: Path,
        *,
        issuer: str = DEFAULT_ISSUER,
        client_id: str = DEFAULT_CLIENT_ID,
        callback_port: int = DEFAULT_CALLBACK_PORT,
        originator: str = "codex_cli_rs",
    ) -> None:
        self.codex_home = codex_home
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.callback_port = callback_port
        self.originator = originator
        self.external: AuthState | None = None
        self.external_refresher: ExternalRefresher | None = None
        self.on_login_completed: CompletionListener | None = None
        #: Called whenever the active credentials change (clients drop cached model clients).
        self.on_changed: Callable[[], None] | None = None
        self._saved: AuthState | None = None
        self._loaded = False
        self._pending: dict[str, PendingLogin] = {}
        self._refresh_lock = asyncio.Lock()

    # ------------------------------------------------------------------ state

    @property
    def current(self) -> AuthState | None:
        if self.external is not None:
            return self.external
        if not self._loaded:
            # First use before any reload(): a small file, read once.
            self._saved = read_auth_file(self.codex_home)
            self._loaded = True
        return self._saved

    async def reload(self) -> AuthState | None:
        self._saved = await asyncio.to_thread(read_auth_file, self.codex_home)
        self._loaded = True
        return self.current

    def _changed(self) -> None:
        if self.on_changed is not None:
            self.on_changed()

    async def save(self, state: AuthState) -> None:
        await asyncio.to_thread(write_auth_file, self.codex_home, state)
        self._saved = state
        self._loaded = True
        self._changed()

    async def login_api_key(self, api_key: str) -> None:
        await self.save(AuthState(mode="apikey", api_key=api_key))

    def login_external(self, access_token: str, account_id: str, plan_type: str | None) -> AuthState:
        if not account_id.strip():
            raise AuthError("chatgptAccountId must not be empty")
        jwt_claims(access_token)  # the reference requires a JWT; fail early with a clear message
        ident = _identity(access_token)
        state = AuthState(
            mode="chatgptAuthTokens",
            access_token=access_token,
            account_id=account_id,
            email=ident["email"],
            plan_type=normalize_plan(plan_type or ident["plan_type"]),
            user_id=ident["user_id"],
        )
        self.external = state
        self._changed()
        return state

    async def logout(self) -> None:
        for login_id in list(self._pending):
            self.cancel(login_id)
        self.external = None
        await asyncio.to_thread(delete_auth_file, self.codex_home)
        self._saved = None
        self._loaded = True
        self._changed()

    # ------------------------------------------------------------------ refresh

    async def refresh_external(self) -> bool:
        """Ask the host application for new tokens after a 401; True when it gave some."""
        refresher = self.external_refresher
        previous = self.external
        if refresher is None or previous is None:
            return False
        async with self._refresh_lock:
            if self.external is not previous:  # another turn refreshed meanwhile
                return self.external is not None
            try:
                answer = await refresher(previous.account_id)
            except Exception as exc:  # the client failed or went away: keep the original 401
                log.warning("account/chatgptAuthTokens/refresh failed: %s", type(exc).__name__)
                return False
            if answer is None:
                return False
            access_token, account_id, plan_type = answer
            try:
                self.login_external(access_token, account_id, plan_type)
            except AuthError as exc:
                log.warning("refreshed ChatGPT tokens rejected: %s", exc)
                return False
            return True

    async def refresh_managed(self) -> bool:
        """Use the saved refresh token (ChatGPT login) for new tokens; True on success."""
        state = await self.reload()
        if state is None or state.mode != "chatgpt" or not state.refresh_token:
            return False
        async with self._refresh_lock:
            body = {
                "client_id": self.client_id,
                "grant_type": "refresh_token",
                "refresh_token": state.refresh_token,
                "scope": "openid profile email",
            }
            try:
                data = await self._post_json(f"{self.issuer}/oauth/token", json_body=body, step="token refresh")
            except AuthError as exc:
                log.warning("%s", exc)
                return False
            await self.save(
                _state_from_tokens(
                    data,
                    fallback_refresh=state.refresh_token,
                    fallback_id=state.id_token,
                )
            )
            return True

    async def refresh(self) -> bool:
        """Refresh whatever kind of ChatGPT credentials are active."""
        if self.external is not None:
            return await self.refresh_external()
        return await self.refresh_managed()

    # ------------------------------------------------------------------ HTTP

    async def _post_json(
        self,
        url: str,
        *,
        step: str,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        pending_statuses: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        # Imported in a worker thread: it takes a few hundred milliseconds the first time.
        httpx2 = await asyncio.to_thread(importlib.import_module, "httpx2")

        try:
            async with httpx2.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                if form is not None:
                    response = await client.post(url, data=form)
                else:
                    response = await client.post(url, json=json_body)
        except httpx2.HTTPError as exc:
            raise AuthError(f"{step} failed: cannot reach {url} ({type(exc).__name__})") from None
        if response.status_code in pending_statuses:
            raise _Pending
        if response.status_code >= 400:
            # The body is not shown: a token endpoint's answer may echo what it was sent.
            raise AuthError(f"{step} failed: {url} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise AuthError(f"{step} failed: {url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise AuthError(f"{step} failed: {url} did not answer a JSON object")
        return data

    async def _exchange_code(self, code: str, redirect_uri: str, verifier: str) -> AuthState:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        data = await self._post_json(f"{self.issuer}/oauth/token", form=form, step="token exchange")
        return _state_from_tokens(data)

    # ------------------------------------------------------------------ logins

    def cancel(self, login_id: str) -> bool:
        pending = self._pending.get(login_id)
        if pending is None:
            return False
        self._finish(pending, "Login was cancelled")
        return True

    def _finish(self, pending: PendingLogin, error: str | None) -> None:
        if self._pending.pop(pending.login_id, None) is None:
            return
        if pending.server is not None:
            pending.server.close()
        current = asyncio.current_task()
        if pending.task is not None and pending.task is not current:
            pending.task.cancel()
        if self.on_login_completed is not None:
            self.on_login_completed(pending.login_id, error)

    def _cancel_all(self) -> None:
        # One login at a time, as in the reference: a new one replaces any in progress.
        for login_id in list(self._pending):
            self.cancel(login_id)

    async def start_browser_login(self) -> PendingLogin:
        """Start the OAuth flow; the caller shows ``auth_url``. Completion is reported later."""
        self._cancel_all()
        pending = PendingLogin(login_id=str(uuid.uuid4()), kind="chatgpt")
        pending.verifier, challenge = _pkce()
        pending.state = secrets.token_urlsafe(32)
        try:
            server = await asyncio.start_server(
                lambda r, w: self._serve_callback(pending, r, w), "127.0.0.1", self.callback_port
            )
        except OSError as exc:
            raise AuthError(
                f"cannot start the login callback server on 127.0.0.1:{self.callback_port} ({exc.strerror}); "
                "close the program using that port, or set `auth_callback_port` in config.toml"
            ) from None
        port = server.sockets[0].getsockname()[1]
        pending.server = server
        pending.redirect_uri = f"http://localhost:{port}/auth/callback"
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": pending.redirect_uri,
            "scope": SCOPES,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "id_token_add_organizations": "true",
            "codex_cli_simplified_flow": "true",
            "state": pending.state,
            "originator": self.originator,
        }
        pending.auth_url = f"{self.issuer}/oauth/authorize?{urlencode(query)}"
        self._pending[pending.login_id] = pending
        pending.task = asyncio.create_task(self._expire(pending, LOGIN_TIMEOUT_S))
        return pending

    async def _expire(self, pending: PendingLogin, after_s: float) -> None:
        await asyncio.sleep(after_s)
        self._finish(pending, "Login timed out")

    async def _serve_callback(
        self, pending: PendingLogin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            request = await read_callback_request(reader, writer)
            if request is None:
                return
            path, query = request
            if path == "/cancel":
                await _respond(writer, 200, "Login cancelled. You can close this window.")
                self._finish(pending, "Login was cancelled")
                return
            if path != "/auth/callback":
                await _respond(writer, 404, "Not found.")
                return
            if pending.login_id not in self._pending:
                await _respond(writer, 410, "This login is no longer in progress.")
                return
            if not secrets.compare_digest(query.get("state", ""), pending.state):
                # A stray or forged request: refuse it, keep waiting for the real redirect.
                await _respond(writer, 400, "State mismatch: this is not the login you started.")
                return
            if "error" in query:
                message = query.get("error_description") or query["error"]
                await _respond(writer, 200, f"Sign-in failed: {message}")
                self._finish(pending, f"Sign-in failed: {message}")
                return
            code = query.get("code")
            if not code:
                await _respond(writer, 400, "Missing authorization code.")
                self._finish(pending, "Sign-in failed: the issuer sent no authorization code")
                return
            try:
                state = await self._exchange_code(code, pending.redirect_uri, pending.verifier)
                await self.save(state)
            except AuthError as exc:
                await _respond(writer, 200, f"Sign-in failed: {exc}")
                self._finish(pending, str(exc))
                return
            await _respond(writer, 200, "Signed in to Codex. You can close this window.")
            self._finish(pending, None)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def start_device_login(self) -> PendingLogin:
        """Start the device-code flow; the caller shows ``verification_url`` and ``user_code``."""
        self._cancel_all()
        data = await self._post_json(
            f"{self.issuer}/api/accounts/deviceauth/usercode",
            json_body={"client_id": self.client_id},
            step="device code request",
        )
        device_auth_id = data.get("device_auth_id")
        user_code = data.get("user_code") or data.get("usercode")
        if not isinstance(device_auth_id, str) or not isinstance(user_code, str):
            raise AuthError("device code request failed: the issuer's answer has no device_auth_id/user_code")
        interval = data.get("interval", 5)
        try:
            interval_s = min(max(float(interval), 0.0), 30.0)
        except (TypeError, ValueError):
            interval_s = 5.0
        pending = PendingLogin(
            login_id=str(uuid.uuid4()),
            kind="chatgptDeviceCode",
            user_code=user_code,
            verification_url=f"{self.issuer}/codex/device",
        )
        self._pending[pending.login_id] = pending
        pending.task = asyncio.create_task(self._poll_device(pending, device_auth_id, interval_s))
        return pending

    async def _poll_device(self, pending: PendingLogin, device_auth_id: str, interval_s: float) -> None:
        deadline = time.monotonic() + DEVICE_LOGIN_TIMEOUT_S
        try:
            while True:
                if time.monotonic() > deadline:
                    self._finish(pending, "Login timed out")
                    return
                try:
                    data = await self._post_json(
                        f"{self.issuer}/api/accounts/deviceauth/token",
                        json_body={"device_auth_id": device_auth_id, "user_code": pending.user_code},
                        step="device code poll",
                        pending_statuses=frozenset({403, 404}),
                    )
                except _Pending:
                    await asyncio.sleep(interval_s)
                    continue
                code = data.get("authorization_code")
                verifier = data.get("code_verifier")
                if not isinstance(code, str) or not isinstance(verifier, str):
                    raise AuthError("device code poll failed: the issuer's answer has no authorization_code")
                state = await self._exchange_code(code, f"{self.issuer}/deviceauth/callback", verifier)
                await self.save(state)
                self._finish(pending, None)
                return
        except AuthError as exc:
            self._finish(pending, str(exc))

    async def aclose(self) -> None:
        self._cancel_all()


class _Pending(Exception):
    """The device code is not approved yet."""


def _state_from_tokens(
    data: dict[str, Any], *, fallback_refresh: str | None = None, fallback_id: str | None = None
) -> AuthState:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError("token exchange failed: the issuer's answer has no access_token")
    id_token = data.get("id_token") if isinstance(data.get("id_token"), str) else fallback_id
    refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else fallback_refresh
    ident = _identity(id_token, access)
    return AuthState(
        mode="chatgpt",
        access_token=access,
        id_token=id_token,
        refresh_token=refresh,
        account_id=ident["account_id"],
        email=ident["email"],
        plan_type=normalize_plan(ident["plan_type"]),
        user_id=ident["user_id"],
    )


async def read_callback_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, dict[str, str]] | None:
    """The path and query of a browser's ``GET`` to a loopback callback server; None when there
    is nothing to serve (the request was cut, too large or not a GET — the latter two answered)."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return None
    if len(head) > _MAX_REQUEST_BYTES:
        await _respond(writer, 431, "Request too large.")
        return None
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) < 2 or parts[0] != "GET":
        await _respond(writer, 405, "Only GET is supported.")
        return None
    url = urlsplit(parts[1])
    return url.path, {key: values[0] for key, values in parse_qs(url.query).items()}


async def respond_page(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    """A small HTML page (the answer a browser shows at the end of a login)."""
    await _respond(writer, status, text)


async def _respond(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone"}.get(
        status, "Error"
    )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Codex login</title></head>"
        f"<body><p>{_html_escape(text)}</p></body></html>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def _plan_types() -> frozenset[str]:
    """The plan names the wire knows (``PlanType``); loaded on first use to keep start-up light."""
    from typing import get_args

    from ..protocol.notifications import PlanType

    return frozenset(get_args(PlanType.__value__))
