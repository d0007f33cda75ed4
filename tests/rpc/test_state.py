"""The Sans-I/O protocol state on its own: no event loop, no transport, 100,000 generated frames."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from agent_app_server.rpc import (
    Incoming,
    IncomingNotification,
    IncomingRequest,
    InvalidParams,
    Refused,
    RpcState,
)
from agent_app_server.testing.wire_fuzz import FrameGenerator

FRAMES = 100_000


def decode(text: str) -> dict[str, Any]:
    text.encode()  # every message we emit is encodable as UTF-8
    message = json.loads(text)
    assert isinstance(message, dict)
    return message


def test_generated_frames_give_one_event_each_and_every_request_one_answer() -> None:
    state: RpcState[str] = RpcState()
    generator = FrameGenerator(17, huge_strings=False)
    requests: list[IncomingRequest] = []
    for _ in range(FRAMES):
        case = generator.case()
        event = state.receive(case.frame)
        if case.null_error:
            assert isinstance(event, Refused), case
            error = decode(event.reply)
            assert error["id"] is None and error["error"]["code"] in (-32700, -32600), (case, error)
        elif case.answer_id is not None and case.kind == "no-method":
            assert isinstance(event, Refused), case
            assert decode(event.reply)["id"] == case.answer_id
        elif case.answer_id is not None:
            assert isinstance(event, IncomingRequest), case
            assert event.id == case.answer_id and type(event.id) is type(case.answer_id)
            requests.append(event)
        elif case.kind == "notification":
            assert isinstance(event, IncomingNotification), case
        else:
            assert event is None, case  # an answer to a request we never sent
    assert state.requests_in_flight == len(requests) > FRAMES // 3
    for index, request in enumerate(requests):
        reply = state.result(request.id, {"n": index}) if index % 2 else state.error(request.id, InvalidParams("no"))
        assert decode(reply)["id"] == request.id
    assert state.requests_in_flight == 0


def test_a_request_is_answered_once_even_when_its_id_is_reused() -> None:
    state: RpcState[str] = RpcState()
    for _ in range(2):
        assert isinstance(state.receive('{"id": 7, "method": "m"}'), IncomingRequest)
    assert isinstance(state.receive('{"id": "7", "method": "m"}'), IncomingRequest)
    state.result(7, None)
    state.result(7, None)
    state.result("7", None)
    with pytest.raises(RuntimeError, match="not in flight"):
        state.result(7, None)
    # An unserializable result leaves the request in flight, to be answered with an error.
    state.receive('{"id": 8, "method": "m"}')
    with pytest.raises(TypeError):
        state.result(8, object())
    assert decode(state.error(8, InvalidParams("bad")))["error"]["code"] == -32602


def test_our_requests_are_matched_to_the_clients_answers() -> None:
    state: RpcState[int] = RpcState()
    rng = random.Random(5)
    outstanding: dict[int | str, int] = {}
    for token in range(10_000):
        request_id, text = state.request("item/tool/requestUserInput", {"n": token}, token)
        assert decode(text) == {"id": request_id, "method": "item/tool/requestUserInput", "params": {"n": token}}
        outstanding[request_id] = token
        if rng.random() < 0.5:
            continue
        answered = rng.choice(list(outstanding))
        body = rng.choice(
            [
                {"result": {"ok": True}},
                {"error": {"code": -1, "message": "no"}},
                {"error": {"code": "not a number", "message": 5}},
                {"error": "not an object"},
            ]
        )
        event = state.receive(json.dumps({"id": answered, **body}))
        assert isinstance(event, Incoming) and event.token == outstanding.pop(answered)
        assert (event.error is None) == ("result" in body)
        # A second answer to the same id is ignored.
        assert state.receive(json.dumps({"id": answered, **body})) is None
    forgotten = next(iter(outstanding))
    state.forget(forgotten)
    assert state.receive(json.dumps({"id": forgotten, "result": 1})) is None
    assert sorted(state.abandon()) == sorted(token for key, token in outstanding.items() if key != forgotten)
    assert state.awaiting_answers == 0
