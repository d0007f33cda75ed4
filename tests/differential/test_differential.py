"""Differential request testing: every method we implement, against the reference binary.

Both servers run side by side over stdio (``harness.Pair``: the same config.toml, each its own
fake model server and an identical workspace as cwd) and get the same requests, generated from
the reference's schema (``cases.py``). A case fails when one side answers a result and the other
an error (or nothing), unless ``allowed.py`` names the docs/compatibility.md row that explains it.
Without the reference binary every test here is skipped, saying how to install it.

Output: the number of generated cases per method (with how many both answered with a result, both
refused, differed as documented, differed *undocumented*, and answered results of another shape)
is printed in pytest's terminal summary after the run, whatever the flags; every case with both
outcomes is written to ``.cache/differential/report.json``.
"""

from __future__ import annotations

import pytest

from differential.allowed import ALLOWED, compat_ids_for, documented_ids
from differential.cases import PLANS
from differential.harness import Pair
from differential.runner import run_method, run_request_ids

#: Methods that change what later cases see (config, credentials) run last.
_LAST = ("account/login/start", "account/logout", "config/value/write", "config/batchWrite", "skills/config/write")
METHODS = [m for m in PLANS if m not in _LAST] + list(_LAST)


def _param(method: str) -> object:
    return pytest.param(method, marks=[pytest.mark.compat(cid) for cid in compat_ids_for(method)], id=method)


def test_allowed_ids_are_documented() -> None:
    missing = sorted({entry.compat for entry in ALLOWED} - documented_ids())
    assert not missing, f"allowed differences without a row in docs/compatibility.md: {missing}"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("method", [_param(m) for m in METHODS])
async def test_method_answers_as_reference(pair: Pair, method: str) -> None:
    record = await run_method(pair, method)
    failures = [case for case in record.cases if case.unexplained]
    assert not failures, (
        f"{method}: {len(failures)} of {len(record.cases)} cases answered differently from the reference "
        "(fix ours, or add a docs/compatibility.md row and an entry in allowed.py):\n"
        + "\n".join(case.describe() for case in failures)
    )


@pytest.mark.compat("rpc:id-range")
@pytest.mark.compat("rpc:parse-error-reply")
@pytest.mark.asyncio(loop_scope="module")
async def test_request_ids_answer_as_reference(pair: Pair) -> None:
    record = await run_request_ids(pair)
    failures = [case for case in record.cases if case.unexplained]
    assert not failures, "request ids answered differently from the reference:\n" + "\n".join(
        case.describe() for case in failures
    )
