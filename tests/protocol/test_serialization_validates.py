"""What we send validates against the reference's JSON Schema, and reads back unchanged.

Samples (``protocol_samples``) cover every ThreadItem variant, a Thread with turns, and the
params and results of every registered method, notification and server request.
"""

from __future__ import annotations

from typing import Any

import pytest
from protocol_samples import CLIENT_PARAMS, methods, notifications, server_requests, thread, thread_items
from pydantic import TypeAdapter, ValidationError

from agent_app_server.protocol import (
    EXPERIMENTAL_CONTEXT_KEY,
    METHODS,
    NOTIFICATIONS,
    SERVER_REQUESTS,
    AudioUserInput,
    ExperimentalNotEnabled,
    ImageGenerationThreadItem,
    ImageUserInput,
    ThreadItem,
    ThreadStartParams,
    TurnStartParams,
    WireModel,
)

EXPERIMENTAL = {EXPERIMENTAL_CONTEXT_KEY: True}
NOT_OPTED_IN = {EXPERIMENTAL_CONTEXT_KEY: False}
ITEM_ADAPTER: TypeAdapter[Any] = TypeAdapter(ThreadItem)


def _round_trips(model: WireModel) -> None:
    wire = model.to_wire()
    assert type(model).model_validate(wire, context=EXPERIMENTAL) == model


def _item_id(item: Any) -> str:
    return f"{item.type}:{item.id}"


@pytest.mark.parametrize("item", thread_items(), ids=_item_id)
def test_thread_item_validates(reference: Any, item: Any) -> None:
    wire = ITEM_ADAPTER.dump_python(item, mode="json", by_alias=True)
    assert reference.type_errors(wire, "ThreadItem") == []
    assert ITEM_ADAPTER.validate_python(wire) == item


def test_samples_cover_every_thread_item_variant() -> None:
    assert len({item.type for item in thread_items()}) == 19


def test_thread_with_turns_validates(reference: Any) -> None:
    sample = thread()
    assert sample.turns and all(turn.items for turn in sample.turns)
    assert reference.type_errors(sample.to_wire(), "Thread") == []
    _round_trips(sample)


def test_samples_cover_the_registry() -> None:
    assert set(methods()) == set(METHODS) == set(CLIENT_PARAMS)
    assert set(notifications()) == set(NOTIFICATIONS)
    assert set(server_requests()) == set(SERVER_REQUESTS)


@pytest.mark.parametrize(("method", "params"), notifications().items(), ids=str)
def test_notification_validates(reference: Any, method: str, params: WireModel) -> None:
    assert isinstance(params, NOTIFICATIONS[method].params)
    message = {"method": method, "params": params.to_wire(), "emittedAtMs": 1_764_000_000_000}
    assert reference.errors(message, "ServerNotification.json") == []
    _round_trips(params)


@pytest.mark.parametrize(("method", "sample"), methods().items(), ids=str)
def test_method_params_and_result_validate(
    reference: Any, reference_experimental: Any, method: str, sample: tuple[WireModel, WireModel]
) -> None:
    params, result = sample
    spec = METHODS[method]
    if spec.experimental:
        reference = reference_experimental
    assert isinstance(result, spec.result)
    request: dict[str, Any] = {"id": 1, "method": method}
    if spec.params is None:
        assert params is None  # a method without params
    else:
        assert isinstance(params, spec.params)
        request["params"] = params.to_wire()
    assert reference.errors(request, "ClientRequest.json") == []
    if method == "initialize":
        assert reference.errors(result.to_wire(), "v1/InitializeResponse.json") == []
    else:
        assert reference.type_errors(result.to_wire(), spec.result.__name__) == []
    if params is not None:
        _round_trips(params)
    _round_trips(result)


@pytest.mark.parametrize(("method", "sample"), server_requests().items(), ids=str)
def test_server_request_params_and_result_validate(
    reference: Any, method: str, sample: tuple[WireModel, WireModel]
) -> None:
    params, result = sample
    spec = SERVER_REQUESTS[method]
    assert isinstance(params, spec.params) and isinstance(result, spec.result)
    request = {"id": 0, "method": method, "params": params.to_wire()}
    assert reference.errors(request, "ServerRequest.json") == []
    assert reference.errors(result.to_wire(), f"{spec.result.__name__}.json") == []
    _round_trips(params)
    _round_trips(result)


@pytest.mark.parametrize(("method", "params"), CLIENT_PARAMS.items(), ids=str)
def test_real_client_params_are_accepted(
    reference: Any, reference_experimental: Any, method: str, params: dict[str, Any] | None
) -> None:
    if METHODS[method].experimental:
        reference = reference_experimental
    request = {"id": 1, "method": method} if params is None else {"id": 1, "method": method, "params": params}
    assert reference.errors(request, "ClientRequest.json") == []
    model = METHODS[method].params
    if model is not None and params is not None:
        model.model_validate(params)


def test_unknown_fields_are_ignored() -> None:
    parsed = ThreadStartParams.model_validate({"cwd": "/x", "persistExtendedHistory": True, "futureField": 1})
    assert parsed.cwd == "/x"


def test_granular_approval_needs_the_experimental_opt_in() -> None:
    granular = {"granular": {"mcp_elicitations": True, "rules": True, "sandbox_approval": False}}
    params = {"approvalPolicy": granular}
    with pytest.raises(ExperimentalNotEnabled, match=r"askForApproval\.granular"):
        ThreadStartParams.model_validate(params, context=NOT_OPTED_IN)
    parsed = ThreadStartParams.model_validate(params, context=EXPERIMENTAL)
    assert parsed.to_wire()["approvalPolicy"] == {
        "granular": {**granular["granular"], "request_permissions": False, "skill_approval": False}
    }
    plain = ThreadStartParams.model_validate({"approvalPolicy": "on-request"}, context=NOT_OPTED_IN)
    assert plain.approval_policy == "on-request"


def test_strict_types_are_enforced() -> None:
    with pytest.raises(ValidationError):
        TurnStartParams.model_validate({"threadId": 5, "input": []})
    with pytest.raises(ValidationError):
        ThreadStartParams.model_validate({"approvalPolicy": "sometimes"})
    with pytest.raises(ValidationError):
        TurnStartParams.model_validate({"threadId": "t", "input": [{"type": "video", "url": "x"}]})


def test_alternative_keys_need_one_and_omit_the_other() -> None:
    with pytest.raises(ValidationError, match="expected `url` or `fileId`"):
        ImageUserInput.model_validate({"type": "image"})
    assert AudioUserInput(file_id="f").to_wire() == {"type": "audio", "fileId": "f"}
    wire = ImageGenerationThreadItem(id="i", status="completed", result="b64").to_wire()
    assert "fileId" not in wire and wire["result"] == "b64"
