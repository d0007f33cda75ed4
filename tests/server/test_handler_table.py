"""Every method in the registry has its handler in the module the registry names, and only there."""

from __future__ import annotations

import importlib

import pytest

from agent_app_server.protocol.registry import METHOD_TABLE
from agent_app_server.server import handlers


@pytest.mark.parametrize("method", sorted(METHOD_TABLE))
def test_the_registry_names_the_module_that_handles_the_method(method: str) -> None:
    handler_fn = handlers.get_handler(method)
    assert handler_fn is not None
    assert handler_fn.__module__ == f"{handlers.__name__}.{METHOD_TABLE[method][3]}"


def test_no_handler_module_registers_a_method_the_registry_lacks() -> None:
    for module in {row[3] for row in METHOD_TABLE.values()}:
        importlib.import_module(f"{handlers.__name__}.{module}")
    assert set(handlers.HANDLERS) <= set(METHOD_TABLE)
