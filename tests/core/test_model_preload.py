"""The SDK preload: ``preload_sdk_soon()`` imports the ``openai`` SDK in a daemon thread, once, and
returns at once, so that a thread's first turn does not wait ~1 s for the import. Run in a fresh
interpreter: this test process has imported the SDK long ago."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import asyncio, sys, threading
from agent_app_server.core.model import preload_sdk, preload_sdk_soon
assert "openai" not in sys.modules, "importing the model package must not import the SDK"
preload_sdk_soon()
preload_sdk_soon()
[thread] = [t for t in threading.enumerate() if t.name == "openai-sdk-preload"]
assert thread.daemon
asyncio.run(preload_sdk())  # waits for the import in progress without blocking the loop
assert "openai" in sys.modules and "httpx2" in sys.modules
thread.join()
preload_sdk_soon()
assert not [t for t in threading.enumerate() if t.name == "openai-sdk-preload"], "imported once per process"
print("ok")
"""


def test_preload_imports_the_sdk_once_in_a_daemon_thread() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
