"""What the terminal UI says under a failed turn (``tui/explain.py``)."""

from __future__ import annotations

from agent_app_server.tui.explain import explain


def test_missing_or_refused_credentials_say_both_ways_out() -> None:
    # The server reports a missing API key as `unauthorized`, as the reference does.
    text = explain({"unauthorized": None})
    assert text is not None
    assert "OPENAI_API_KEY" in text and "local model" in text


def test_the_http_status_is_appended_when_the_server_gives_one() -> None:
    assert explain({"badRequest": {"httpStatusCode": 400}}) == (
        "The provider rejected the request as malformed. Check the model and provider settings "
        "in config.toml. (HTTP 400)"
    )


def test_an_unknown_variant_is_named_and_nothing_is_invented_for_none() -> None:
    assert explain("somethingNew") == "The server reported `somethingNew`."
    assert explain(None) is None
