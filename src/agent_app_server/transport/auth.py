"""WebSocket authentication: the ``--ws-auth`` modes, their start-up checks, and the per-upgrade check.

Owns: reading and validating the token or shared-secret file once at start-up, parsing the
``Authorization`` header, and deciding whether an upgrade is allowed (and until when). Every refusal
carries the reference's plain-text reason, which the listener sends as an HTTP 401 body.
Layer: transport (standard library only; PyJWT is imported lazily, only in signed-bearer mode).

Secrets are never compared with ``==``: a capability token is kept only as its SHA-256 digest and a
presented token is hashed and compared with :func:`hmac.compare_digest` (a test enforces this).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

AuthMode = Literal["capability-token", "signed-bearer-token"]

#: The reference's default ``--ws-max-clock-skew-seconds``.
DEFAULT_MAX_CLOCK_SKEW_SECONDS = 30
#: Shortest shared secret accepted for HS256 (after trimming), as the reference.
MIN_SHARED_SECRET_BYTES = 32

# The reference's refusal bodies (HTTP 401, text/plain), verbatim.
MISSING_TOKEN = "missing websocket bearer token"
INVALID_HEADER = "invalid authorization header"
INVALID_TOKEN = "invalid websocket bearer token"
INVALID_JWT = "invalid websocket jwt"
EXPIRED_JWT = "expired websocket jwt"
JWT_NOT_YET_VALID = "websocket jwt is not valid yet"
JWT_ISSUER_MISMATCH = "websocket jwt issuer mismatch"
JWT_AUDIENCE_MISMATCH = "websocket jwt audience mismatch"


class AuthConfigError(Exception):
    """A start-up error in the ``--ws-*`` flags; the message is printed after ``Error: ``."""


class AuthRejected(Exception):
    """An upgrade refused with HTTP 401; ``reason`` is the response body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Grant:
    """An accepted upgrade. ``expires_at`` (Unix seconds) is when the credential stops being valid."""

    expires_at: float | None = None


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Grant:
        """Check an ``Authorization`` header value (None when absent); raise :class:`AuthRejected`."""
        ...


@dataclass(frozen=True, slots=True)
class WsAuthOptions:
    """The ``--ws-*`` flags as given (None = not given)."""

    mode: AuthMode | None = None
    token_file: str | None = None
    token_sha256: str | None = None
    shared_secret_file: str | None = None
    issuer: str | None = None
    audience: str | None = None
    max_clock_skew_seconds: int | None = None

    @property
    def any_flag(self) -> bool:
        return any(
            value is not None
            for value in (
                self.token_file,
                self.token_sha256,
                self.shared_secret_file,
                self.issuer,
                self.audience,
                self.max_clock_skew_seconds,
            )
        )


def bearer_token(authorization: str | None) -> str:
    """The token of ``Bearer <token>`` (scheme case-insensitive, token trimmed), or a refusal."""
    if authorization is None:
        raise AuthRejected(MISSING_TOKEN)
    scheme, space, token = authorization.partition(" ")
    token = token.strip()
    if not space or scheme.lower() != "bearer" or not token:
        raise AuthRejected(INVALID_HEADER)
    return token


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class CapabilityTokenAuth:
    """``--ws-auth capability-token``: the bearer token's SHA-256 must equal the configured digest."""

    def __init__(self, digest: bytes) -> None:
        if len(digest) != hashlib.sha256().digest_size:
            raise ValueError("a capability token digest is 32 bytes")
        self._digest = digest

    def authenticate(self, authorization: str | None) -> Grant:
        presented = token_digest(bearer_token(authorization))
        if not hmac.compare_digest(presented, self._digest):
            raise AuthRejected(INVALID_TOKEN)
        return Grant()


class SignedBearerAuth:
    """``--ws-auth signed-bearer-token``: an HS256 JWT signed with the shared secret.

    ``exp`` is required; ``nbf`` is honoured when present; ``iss``/``aud`` are checked only when
    an issuer/audience is configured (``aud`` may be a string or a list), all with ``skew`` seconds
    of tolerance. The claim checks are ours, not PyJWT's, so that each failure gets the reference's
    own reason.
    """

    def __init__(self, secret: bytes, *, issuer: str | None, audience: str | None, skew: int) -> None:
        self._secret = secret
        self._issuer = issuer or None
        self._audience = audience or None
        self.skew = skew

    def authenticate(self, authorization: str | None) -> Grant:
        claims = self._verified_claims(bearer_token(authorization))
        now = time.time()
        exp = _number(claims.get("exp"))
        if exp is None:
            raise AuthRejected(INVALID_JWT)
        if now > exp + self.skew:
            raise AuthRejected(EXPIRED_JWT)
        if claims.get("nbf") is not None:
            nbf = _number(claims.get("nbf"))
            if nbf is None:
                raise AuthRejected(INVALID_JWT)
            if now < nbf - self.skew:
                raise AuthRejected(JWT_NOT_YET_VALID)
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise AuthRejected(JWT_ISSUER_MISMATCH)
        if self._audience is not None:
            aud = claims.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
            if self._audience not in audiences:
                raise AuthRejected(JWT_AUDIENCE_MISMATCH)
        return Grant(expires_at=exp + self.skew)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={
                    "require": ["exp"],
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthRejected(INVALID_JWT) from None
        if not isinstance(claims, dict):
            raise AuthRejected(INVALID_JWT)
        return claims


def _number(value: Any) -> float | None:
    """A numeric claim (NumericDate); booleans and strings are malformed, as for the reference."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# ---------------------------------------------------------------------- start-up


def build_authenticator(options: WsAuthOptions) -> Authenticator | None:
    """Validate the flags as the reference does (same order, same messages), plus our file checks.

    Raises :class:`AuthConfigError`. Files are read once, here; later changes are ignored.
    """
    if options.mode is None:
        if options.any_flag:
            raise AuthConfigError(
                "websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
            )
        return None
    if options.mode == "capability-token":
        if any(
            value is not None
            for value in (options.shared_secret_file, options.issuer, options.audience, options.max_clock_skew_seconds)
        ):
            raise AuthConfigError(
                "`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` "
                "require `--ws-auth signed-bearer-token`"
            )
        if options.token_file is not None and options.token_sha256 is not None:
            raise AuthConfigError("`--ws-token-file` and `--ws-token-sha256` are mutually exclusive")
        if options.token_file is not None:
            token = _read_secret("--ws-token-file", options.token_file).decode(errors="replace").strip()
            if not token:
                raise AuthConfigError(f"websocket auth secret {options.token_file} must not be empty")
            return CapabilityTokenAuth(token_digest(token))
        if options.token_sha256 is not None:
            return CapabilityTokenAuth(_parse_sha256(options.token_sha256))
        raise AuthConfigError(
            "`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set"
        )
    if options.token_file is not None or options.token_sha256 is not None:
        raise AuthConfigError(
            "`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not `signed-bearer-token`"
        )
    if options.shared_secret_file is None:
        raise AuthConfigError("`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set")
    secret = _read_secret("--ws-shared-secret-file", options.shared_secret_file).strip()
    if len(secret) < MIN_SHARED_SECRET_BYTES:
        raise AuthConfigError(
            f"signed websocket bearer secret {options.shared_secret_file} must be at least "
            f"{MIN_SHARED_SECRET_BYTES} bytes"
        )
    skew = DEFAULT_MAX_CLOCK_SKEW_SECONDS if options.max_clock_skew_seconds is None else options.max_clock_skew_seconds
    if skew < 0:
        raise AuthConfigError(f"--ws-max-clock-skew-seconds must not be negative, got {skew}")
    return SignedBearerAuth(secret, issuer=options.issuer, audience=options.audience, skew=skew)


def _parse_sha256(text: str) -> bytes:
    value = text.strip()
    if len(value) != 64:
        raise AuthConfigError("--ws-token-sha256 must be a 64-character hex SHA-256 digest")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise AuthConfigError("--ws-token-sha256 must be a 64-character hex SHA-256 digest") from None


def _read_secret(flag: str, path_text: str) -> bytes:
    """The file's bytes. Unlike the reference we refuse relative paths (they silently depend on the
    cwd) and files other users can read (the secret would not be one)."""
    path = Path(path_text)
    if not path.is_absolute():
        raise AuthConfigError(
            f"{flag} must be an absolute path, got `{path_text}`; pass `{Path.cwd() / path}` if that is the file"
        )
    try:
        with path.open("rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read()
    except OSError as exc:
        raise AuthConfigError(
            f"failed to read websocket auth secret {path_text}: {exc.strerror} (os error {exc.errno})"
        ) from None
    if not stat.S_ISREG(mode):
        raise AuthConfigError(f"websocket auth secret {path_text} is not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthConfigError(
            f"websocket auth secret {path_text} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"restrict it with `chmod 600 {path_text}`"
        )
    return data
