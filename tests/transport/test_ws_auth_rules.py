"""``transport.auth`` on its own: header parsing, token digests, JWT claim rules, and a code check
that secrets are only ever compared in constant time."""

from __future__ import annotations

import ast
import hashlib
import inspect
import time
from pathlib import Path

import jwt
import pytest

from agent_app_server.transport import auth
from agent_app_server.transport.auth import (
    AuthConfigError,
    AuthRejected,
    CapabilityTokenAuth,
    SignedBearerAuth,
    WsAuthOptions,
    bearer_token,
    build_authenticator,
)

SECRET = b"k" * 64
SECRET_WORDS = ("token", "digest", "secret", "presented", "password", "key")


def _names(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id.lower())
        elif isinstance(child, ast.Attribute):
            names.add(child.attr.lower())
    return names


def test_secrets_are_never_compared_with_equality_operators() -> None:
    tree = ast.parse(Path(inspect.getfile(auth)).read_text())
    offenders = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, ast.Eq | ast.NotEq | ast.Is | ast.IsNot | ast.In | ast.NotIn) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        if any(isinstance(operand, ast.Constant) and operand.value is None for operand in operands):
            continue  # "was this flag given", not a comparison of secret values
        for operand in operands:
            # len(secret) and digest sizes compare lengths, not secrets.
            if isinstance(operand, ast.Call) and isinstance(operand.func, ast.Name) and operand.func.id == "len":
                continue
            if isinstance(operand, ast.Attribute) and operand.attr.endswith("_size"):
                continue
            secretish = {name for name in _names(operand) if any(word in name for word in SECRET_WORDS)}
            if secretish:
                offenders.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not offenders, "secrets compared with ==/!=/in instead of hmac.compare_digest:\n" + "\n".join(offenders)


def test_capability_tokens_compare_sha256_digests_with_compare_digest() -> None:
    source = inspect.getsource(CapabilityTokenAuth.authenticate)
    assert "hmac.compare_digest(" in source
    assert "token_digest(" in source
    assert auth.token_digest("abc") == hashlib.sha256(b"abc").digest()


def test_capability_token_accepts_only_the_configured_token() -> None:
    checker = CapabilityTokenAuth(hashlib.sha256(b"right").digest())
    assert checker.authenticate("Bearer right").expires_at is None
    assert checker.authenticate("bearer   right  ").expires_at is None
    with pytest.raises(AuthRejected, match=r"^invalid websocket bearer token$"):
        checker.authenticate("Bearer wrong")
    with pytest.raises(AuthRejected, match=r"^invalid websocket bearer token$"):
        checker.authenticate("Bearer righ")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing websocket bearer token"),
        ("Basic abc", "invalid authorization header"),
        ("Bearer ", "invalid authorization header"),
        ("Bearer    ", "invalid authorization header"),
        ("Bearer", "invalid authorization header"),
        ("Bearerabc", "invalid authorization header"),
        ("", "invalid authorization header"),
    ],
)
def test_authorization_header_refusals(header: str | None, reason: str) -> None:
    with pytest.raises(AuthRejected) as refused:
        bearer_token(header)
    assert refused.value.reason == reason


def _jwt(claims: dict[str, object], key: bytes = SECRET, algorithm: str = "HS256") -> str:
    return f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"


def test_jwt_claim_rules() -> None:
    now = int(time.time())
    checker = SignedBearerAuth(SECRET, issuer="iss", audience="aud", skew=30)
    good = {"exp": now + 300, "iss": "iss", "aud": "aud"}
    assert checker.authenticate(_jwt(good)).expires_at == now + 300 + 30
    assert checker.authenticate(_jwt({**good, "aud": ["x", "aud"]})).expires_at is not None
    assert checker.authenticate(_jwt({**good, "exp": now - 10})).expires_at is not None
    assert checker.authenticate(_jwt({**good, "nbf": now + 10})).expires_at is not None
    cases = {
        "expired websocket jwt": {**good, "exp": now - 60},
        "websocket jwt is not valid yet": {**good, "nbf": now + 3600},
        "websocket jwt issuer mismatch": {**good, "iss": "other"},
        "websocket jwt audience mismatch": {**good, "aud": "other"},
        "invalid websocket jwt": {"iss": "iss", "aud": "aud"},
    }
    for reason, claims in cases.items():
        with pytest.raises(AuthRejected) as refused:
            checker.authenticate(_jwt(claims))
        assert refused.value.reason == reason, claims
    missing_aud = {"exp": now + 300, "iss": "iss"}
    with pytest.raises(AuthRejected, match="audience mismatch"):
        checker.authenticate(_jwt(missing_aud))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_jwt_only_hs256(algorithm: str) -> None:
    checker = SignedBearerAuth(SECRET, issuer=None, audience=None, skew=30)
    with pytest.raises(AuthRejected, match=r"^invalid websocket jwt$"):
        checker.authenticate(_jwt({"exp": int(time.time()) + 300}, algorithm=algorithm))


def test_jwt_alg_none_wrong_secret_and_garbage() -> None:
    checker = SignedBearerAuth(SECRET, issuer=None, audience=None, skew=30)
    unsigned = jwt.encode({"exp": int(time.time()) + 300}, None, algorithm="none")
    for header in (f"Bearer {unsigned}", _jwt({"exp": int(time.time()) + 300}, key=b"w" * 64), "Bearer not-a-jwt"):
        with pytest.raises(AuthRejected, match=r"^invalid websocket jwt$"):
            checker.authenticate(header)


def test_unconfigured_issuer_and_audience_are_not_checked() -> None:
    checker = SignedBearerAuth(SECRET, issuer="", audience="", skew=0)
    assert checker.authenticate(_jwt({"exp": int(time.time()) + 60, "iss": "any", "aud": 5})).expires_at


def test_startup_rules_for_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tok\n")
    token.chmod(0o600)
    built = build_authenticator(WsAuthOptions(mode="capability-token", token_file=str(token)))
    assert isinstance(built, CapabilityTokenAuth)
    token.chmod(0o640)
    with pytest.raises(AuthConfigError, match=r"accessible by group or others \(mode 0640\).*chmod 600"):
        build_authenticator(WsAuthOptions(mode="capability-token", token_file=str(token)))
    with pytest.raises(AuthConfigError, match="--ws-token-file must be an absolute path, got `token`"):
        build_authenticator(WsAuthOptions(mode="capability-token", token_file="token"))
    with pytest.raises(AuthConfigError, match="must be a 64-character hex SHA-256 digest"):
        build_authenticator(WsAuthOptions(mode="capability-token", token_sha256="zz" * 32))
    digest = hashlib.sha256(b"tok").hexdigest().upper()
    built = build_authenticator(WsAuthOptions(mode="capability-token", token_sha256=digest))
    assert isinstance(built, CapabilityTokenAuth)
    built.authenticate("Bearer tok")
