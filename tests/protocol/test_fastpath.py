"""The pre-serialized delta notifications equal what the generic encoder would send."""

from __future__ import annotations

import json

from agent_app_server.protocol.fastpath import DeltaEncoder


def test_delta_encoder_matches_the_generic_shape() -> None:
    encoder = DeltaEncoder("item/agentMessage/delta", "t-1", "u-2", 'msg_"quoted"')
    for delta in ["plain", 'quote " and \\ backslash', "newline\n tab\t", "unicode é ✓ 🚀", "\x00\x1f control", ""]:
        message = json.loads(encoder.encode(delta))
        assert message["method"] == "item/agentMessage/delta"
        assert message["params"] == {"threadId": "t-1", "turnId": "u-2", "itemId": 'msg_"quoted"', "delta": delta}
        assert isinstance(message["emittedAtMs"], int)
        assert list(message) == ["method", "params", "emittedAtMs"]


def test_delta_encoder_extra_fields() -> None:
    encoder = DeltaEncoder("item/reasoning/summaryTextDelta", "t", "u", "rs_1", {"summaryIndex": 2})
    message = json.loads(encoder.encode("x"))
    assert message["params"] == {"threadId": "t", "turnId": "u", "itemId": "rs_1", "delta": "x", "summaryIndex": 2}
