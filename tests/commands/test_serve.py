"""The serving command's flags (``commands/serve.py``)."""

from __future__ import annotations

import argparse

from agent_app_server.commands import serve
from agent_app_server.core.config import DEFAULT_IDLE_UNLOAD_S


def test_idle_unload_flag_defers_to_the_one_default_and_its_help_states_it() -> None:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    assert parser.parse_args([]).idle_thread_unload_seconds is None
    [action] = [action for action in parser._actions if action.dest == "idle_thread_unload_seconds"]
    assert f"default {DEFAULT_IDLE_UNLOAD_S:g}" in str(action.help)
    assert parser.parse_args(["--idle-thread-unload-seconds", "0"]).idle_thread_unload_seconds == 0
