"""The client's exception tree: every failure a caller can see, mapped in one place.

Owns: turning JSON-RPC error answers (:func:`from_rpc_error`) and failed turns
(:func:`from_turn_error`) into typed exceptions. Layer: client (imports ``rpc`` only).

::

    ClientError
    ├── ConnectError ............... could not spawn / connect / initialize
    │   └── InsecureTokenError ..... a bearer token would travel unprotected: refused before connecting
    ├── ConnectionLost ............. the connection ended before the answer (request not retried)
    ├── ResponseValidationError .... an answer or a server request does not match the protocol model
    ├── RpcCallError ............... the server answered a request with a JSON-RPC error (.code .data)
    │   ├── RpcParseError .......... -32700
    │   ├── RpcInvalidRequest ...... -32600
    │   ├── RpcMethodNotFound ...... -32601
    │   ├── RpcInvalidParams ....... -32602
    │   ├── RpcInternalError ....... -32603
    │   └── RpcServerOverloaded .... -32001, still refused after the bounded retries (.attempts)
    └── TurnFailed ................. a turn ended ``failed`` (.turn .error .codex_error_info); one
        │                            subclass per ``codexErrorInfo`` variant the server can send:
        ├── ContextWindowExceeded        ├── InternalServerError
        ├── SessionBudgetExceeded        ├── Unauthorized
        ├── UsageLimitExceeded           ├── BadRequest
        ├── RateLimitExceeded            ├── ThreadRollbackFailed
        ├── FlexUnavailable              ├── SandboxError
        ├── ServerOverloaded             ├── OtherTurnError ............ ``other``
        ├── ModelNotFound                ├── InferenceHookDenied
        ├── PolicyCapacityUnavailable    ├── HttpConnectionFailed ...... ``{httpConnectionFailed}``
        ├── CyberPolicy                  ├── ResponseStreamConnectionFailed
        ├── MisalignmentPolicyViolation  ├── ResponseStreamDisconnected
        ├── TooManyDenials               ├── ResponseTooManyFailedAttempts
        └── ActiveTurnNotSteerable ..... ``{activeTurnNotSteerable}``

A JSON-RPC error whose ``data`` carries a ``codexErrorInfo`` is still an :class:`RpcCallError`
(by code); its ``codex_error_info`` attribute says which variant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..rpc.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_OVERLOADED,
    RemoteError,
)

if TYPE_CHECKING:
    from ..protocol.threads import Turn


class ClientError(Exception):
    """The base of everything this client raises."""


class ConnectError(ClientError):
    """The server could not be spawned, reached or initialized; the message says which and why."""


class InsecureTokenError(ConnectError):
    """A bearer token would be sent where others could read it; nothing was sent."""


class ConnectionLost(ClientError):
    """The connection ended before the server answered (the request is not retried: it may have run)."""


class ResponseValidationError(ClientError):
    """A message from the server does not match the protocol model; ``raw`` is what arrived."""

    def __init__(self, message: str, raw: Any) -> None:
        super().__init__(message)
        self.raw = raw


class RpcCallError(ClientError):
    """The server answered ``method`` with a JSON-RPC error."""

    code: int = 0

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message
        self.data = data

    @property
    def codex_error_info(self) -> Any:
        return self.data.get("codexErrorInfo") if isinstance(self.data, dict) else None


class RpcParseError(RpcCallError):
    code = PARSE_ERROR


class RpcInvalidRequest(RpcCallError):
    code = INVALID_REQUEST


class RpcMethodNotFound(RpcCallError):
    code = METHOD_NOT_FOUND


class RpcInvalidParams(RpcCallError):
    code = INVALID_PARAMS


class RpcInternalError(RpcCallError):
    code = INTERNAL_ERROR


class RpcServerOverloaded(RpcCallError):
    """Still ``-32001`` after ``attempts`` tries with exponential backoff."""

    code = SERVER_OVERLOADED
    attempts: int = 1


_BY_CODE: dict[int, type[RpcCallError]] = {
    cls.code: cls for cls in (RpcParseError, RpcInvalidRequest, RpcMethodNotFound, RpcInvalidParams, RpcInternalError)
}
_BY_CODE[SERVER_OVERLOADED] = RpcServerOverloaded


def from_rpc_error(method: str, error: RemoteError, *, attempts: int = 1) -> RpcCallError:
    """The typed form of an error answer to ``method``."""
    cls = _BY_CODE.get(error.code, RpcCallError)
    typed = cls(method, error.code, error.message, error.data)
    if isinstance(typed, RpcServerOverloaded):
        typed.attempts = attempts
        typed.args = (f"{method}: {error.message} (code {error.code}; gave up after {attempts} attempts)",)
    return typed


class TurnFailed(ClientError):
    """A turn ended ``failed``; ``error`` is its ``TurnError`` (message, codexErrorInfo, details)."""

    #: The ``codexErrorInfo`` variant this class stands for (a string, or the key of an object).
    variant: str | None = None

    def __init__(self, turn: Turn) -> None:
        error = turn.error
        message = error.message if error is not None else f"turn {turn.id} failed"
        details = error.additional_details if error is not None else None
        super().__init__(f"{message} ({details})" if details else message)
        self.turn = turn
        self.error = error
        self.codex_error_info: Any = error.codex_error_info if error is not None else None


# One class per codexErrorInfo variant (protocol.threads.CodexErrorInfo).


class ContextWindowExceeded(TurnFailed):
    """The conversation no longer fits the model's context."""

    variant = "contextWindowExceeded"


class SessionBudgetExceeded(TurnFailed):
    """The session's spending budget is used up."""

    variant = "sessionBudgetExceeded"


class UsageLimitExceeded(TurnFailed):
    """The account's usage limit is reached."""

    variant = "usageLimitExceeded"


class RateLimitExceeded(TurnFailed):
    """The model provider rate-limited the requests."""

    variant = "rateLimitExceeded"


class FlexUnavailable(TurnFailed):
    """The flex service tier is unavailable."""

    variant = "flexUnavailable"


class ServerOverloaded(TurnFailed):
    """The model provider is overloaded."""

    variant = "serverOverloaded"


class ModelNotFound(TurnFailed):
    """The model does not exist at the provider."""

    variant = "modelNotFound"


class PolicyCapacityUnavailable(TurnFailed):
    """No capacity under the current policy."""

    variant = "policyCapacityUnavailable"


class CyberPolicy(TurnFailed):
    """Refused by the provider's cyber-safety policy."""

    variant = "cyberPolicy"


class MisalignmentPolicyViolation(TurnFailed):
    """Refused as a misalignment policy violation."""

    variant = "misalignmentPolicyViolation"


class TooManyDenials(TurnFailed):
    """Too many approvals were denied in this turn."""

    variant = "tooManyDenials"


class InternalServerError(TurnFailed):
    """The model provider failed internally."""

    variant = "internalServerError"


class Unauthorized(TurnFailed):
    """The credentials were refused by the model provider."""

    variant = "unauthorized"


class BadRequest(TurnFailed):
    """The model provider refused the request as malformed."""

    variant = "badRequest"


class ThreadRollbackFailed(TurnFailed):
    """Rolling the thread back failed."""

    variant = "threadRollbackFailed"


class SandboxError(TurnFailed):
    """The sandbox could not run a command."""

    variant = "sandboxError"


class OtherTurnError(TurnFailed):
    """A failure without a more specific classification."""

    variant = "other"


class InferenceHookDenied(TurnFailed):
    """A hook refused the model request."""

    variant = "inferenceHookDenied"


class HttpConnectionFailed(TurnFailed):
    """The model provider could not be reached."""

    variant = "httpConnectionFailed"


class ResponseStreamConnectionFailed(TurnFailed):
    """The response stream could not open."""

    variant = "responseStreamConnectionFailed"


class ResponseStreamDisconnected(TurnFailed):
    """The response stream ended early."""

    variant = "responseStreamDisconnected"


class ResponseTooManyFailedAttempts(TurnFailed):
    """Every retry of the request failed."""

    variant = "responseTooManyFailedAttempts"


class ActiveTurnNotSteerable(TurnFailed):
    """The running turn cannot be steered."""

    variant = "activeTurnNotSteerable"


TURN_ERRORS: dict[str, type[TurnFailed]] = {
    cls.variant: cls
    for cls in (
        ContextWindowExceeded,
        SessionBudgetExceeded,
        UsageLimitExceeded,
        RateLimitExceeded,
        FlexUnavailable,
        ServerOverloaded,
        ModelNotFound,
        PolicyCapacityUnavailable,
        CyberPolicy,
        MisalignmentPolicyViolation,
        TooManyDenials,
        InternalServerError,
        Unauthorized,
        BadRequest,
        ThreadRollbackFailed,
        SandboxError,
        OtherTurnError,
        InferenceHookDenied,
        HttpConnectionFailed,
        ResponseStreamConnectionFailed,
        ResponseStreamDisconnected,
        ResponseTooManyFailedAttempts,
        ActiveTurnNotSteerable,
    )
    if cls.variant is not None
}


def variant_name(info: Any) -> str | None:
    """``"usageLimitExceeded"`` → itself; ``{"httpConnectionFailed": {...}}`` → its key."""
    if isinstance(info, str):
        return info
    if isinstance(info, dict) and len(info) == 1:
        return str(next(iter(info)))
    if hasattr(info, "model_dump"):
        return variant_name(info.model_dump(by_alias=True))
    return None


def from_turn_error(turn: Turn) -> TurnFailed:
    """The typed exception for a failed turn (:class:`TurnFailed` itself for an unknown variant)."""
    info = turn.error.codex_error_info if turn.error is not None else None
    name = variant_name(info)
    return TURN_ERRORS.get(name or "", TurnFailed)(turn)
