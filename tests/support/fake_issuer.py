"""A fake ChatGPT OAuth issuer on 127.0.0.1: the authorize step (done by the test, as the user's
browser would), the token endpoint with PKCE checking, and the device-code endpoints."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


def make_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def chatgpt_claims(email: str = "dev@example.com", plan: str = "pro", account: str = "acct-1") -> dict[str, Any]:
    return {
        "email": email,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": plan,
            "chatgpt_account_id": account,
            "chatgpt_user_id": "user-1",
        },
        "exp": 9_999_999_999,
    }


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeIssuer:
    """Issues codes for authorize URLs and tokens for codes; every secret it hands out is in
    ``secrets_issued`` so tests can check none of them leaks."""

    email: str = "dev@example.com"
    plan: str = "pro"
    requests: list[Recorded] = field(default_factory=list)
    secrets_issued: list[str] = field(default_factory=list)
    device_approved: bool = False
    device_polls: int = 0
    #: Set once the server has polled the device-code endpoint twice (the user has not approved).
    polled_twice: asyncio.Event = field(default_factory=asyncio.Event)
    _codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (challenge, redirect_uri)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeIssuer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def authorize(self, auth_url: str) -> tuple[str, dict[str, str]]:
        """What the issuer does when the user signs in: a code for the redirect, and the query."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        code = "code-" + secrets.token_hex(8)
        self._codes[code] = (query["code_challenge"], query["redirect_uri"])
        return code, query

    def _tokens(self) -> dict[str, str]:
        claims = chatgpt_claims(self.email, self.plan)
        tokens = {
            "id_token": make_jwt(claims),
            "access_token": make_jwt({**claims, "nonce": secrets.token_hex(8)}),
            "refresh_token": "refresh-" + secrets.token_hex(16),
        }
        self.secrets_issued += [tokens["access_token"], tokens["refresh_token"], tokens["id_token"]]
        return tokens

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Recorded(method, path, headers, body)
            self.requests.append(request)
            status, payload = self._route(request)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _route(self, request: Recorded) -> tuple[int, Any]:
        path = urlsplit(request.path).path
        if path == "/oauth/token":
            if request.headers.get("content-type", "").startswith("application/json"):
                body = request.json()
                if body.get("grant_type") == "refresh_token" and body.get("refresh_token") in self.secrets_issued:
                    return 200, self._tokens()
                return 400, {"error": "invalid_grant"}
            form = request.form()
            entry = self._codes.pop(form.get("code", ""), None)
            if form.get("grant_type") != "authorization_code" or entry is None:
                return 400, {"error": "invalid_grant"}
            challenge, redirect_uri = entry
            verifier = form.get("code_verifier", "")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if computed != challenge or form.get("redirect_uri") != redirect_uri:
                return 400, {"error": "invalid_grant", "error_description": "PKCE or redirect_uri mismatch"}
            return 200, self._tokens()
        if path == "/api/accounts/deviceauth/usercode":
            return 200, {"device_auth_id": "dev-auth-1", "user_code": "ABCD-1234", "interval": "0.05"}
        if path == "/api/accounts/deviceauth/token":
            self.device_polls += 1
            if self.device_polls >= 2:
                self.polled_twice.set()
            if not self.device_approved:
                return 403, {"error": "authorization_pending"}
            verifier = secrets.token_urlsafe(32)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            code = "code-" + secrets.token_hex(8)
            self._codes[code] = (challenge, f"{self.url}/deviceauth/callback")
            return 200, {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier}
        return 404, {"error": "not found"}
