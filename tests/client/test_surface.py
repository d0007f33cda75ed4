"""The client's public surface: exported names pinned, the generated typed methods current and
complete, and the exception tree one class per JSON-RPC code and per ``codexErrorInfo`` variant."""

from __future__ import annotations

import typing
from pathlib import Path

import agent_app_server.client as client_package
from agent_app_server.client import AsyncClient, Client, errors
from agent_app_server.client._generate import TARGET, python_name, render
from agent_app_server.protocol.registry import METHOD_TABLE
from agent_app_server.protocol.threads import CodexErrorInfo, Turn
from agent_app_server.rpc import RemoteError


def test_exported_names() -> None:
    assert client_package.__all__ == [
        "DEFAULT_COMMAND",
        "WITHDRAWN",
        "AsyncClient",
        "Backoff",
        "Client",
        "ClientError",
        "ClientOptions",
        "ConnectError",
        "ConnectionLost",
        "Event",
        "InsecureTokenError",
        "ResponseValidationError",
        "RpcCallError",
        "RpcServerOverloaded",
        "Subscription",
        "SyncTurn",
        "ThreadHandle",
        "TurnFailed",
        "TurnHandle",
        "check_token_target",
        "text_input",
    ]


def test_generated_methods_are_current() -> None:
    assert Path(TARGET).read_text() == render(), "run: python -m agent_app_server.client._generate"


def test_every_implemented_method_has_a_typed_method_both_ways() -> None:
    for method in METHOD_TABLE:
        name = python_name(method)
        assert callable(getattr(AsyncClient, name)), method
        assert callable(getattr(Client, name)), method


def _codex_error_variants() -> set[str]:
    names: set[str] = set()
    for member in typing.get_args(CodexErrorInfo.__value__):
        if typing.get_origin(member) is typing.Literal:
            names.update(typing.get_args(member))
        else:
            (field,) = member.model_fields.values()
            names.add(field.alias or "")
    return names


def test_one_exception_per_codex_error_info_variant() -> None:
    assert set(errors.TURN_ERRORS) == _codex_error_variants()
    for variant, cls in errors.TURN_ERRORS.items():
        assert issubclass(cls, errors.TurnFailed) and cls.variant == variant
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} is missing from the drawn tree"


def test_turn_errors_map_strings_and_objects() -> None:
    failed = Turn.model_validate(
        {
            "id": "t",
            "status": "failed",
            "items": [],
            "error": {"message": "boom", "codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": 502}}},
        }
    )
    error = errors.from_turn_error(failed)
    assert isinstance(error, errors.HttpConnectionFailed) and str(error) == "boom"
    unknown = failed.model_copy(update={"error": failed.error.model_copy(update={"codex_error_info": None})})  # type: ignore[union-attr]
    assert type(errors.from_turn_error(unknown)) is errors.TurnFailed


def test_one_exception_per_json_rpc_code() -> None:
    expected = {
        -32700: errors.RpcParseError,
        -32600: errors.RpcInvalidRequest,
        -32601: errors.RpcMethodNotFound,
        -32602: errors.RpcInvalidParams,
        -32603: errors.RpcInternalError,
        -32001: errors.RpcServerOverloaded,
    }
    for code, cls in expected.items():
        typed = errors.from_rpc_error("m", RemoteError(code, "why", {"codexErrorInfo": "other"}))
        assert type(typed) is cls and typed.code == code and typed.codex_error_info == "other"
        assert cls.__name__ in errors.__doc__
    assert type(errors.from_rpc_error("m", RemoteError(-1, "odd"))) is errors.RpcCallError
