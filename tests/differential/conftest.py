"""The reference/ours pair shared by the differential tests, and their summary in pytest's output."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from differential.harness import Pair
from differential.runner import RECORDS, summary_lines, write_report
from support.reference import reference_binary


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair() -> AsyncIterator[Pair]:
    binary, why = reference_binary()
    if binary is None:
        pytest.skip(f"differential tests need the reference binary: {why}")
    started = Pair([str(binary)])
    try:
        await started.start()
        for side in started.sides:
            side.vars["thread"], side.vars["turn"] = await side.saved_thread()
        yield started
    finally:
        await started.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECORDS:
        return
    terminalreporter.write_sep("=", "differential: generated cases per method (reference vs ours)")
    for line in summary_lines():
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"every case, both sides: {write_report()}")
