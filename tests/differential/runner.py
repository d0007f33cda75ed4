"""Runs one method's generated cases on both sides of a :class:`harness.Pair` and records them.

Owns: :class:`CaseRecord` / :class:`MethodRecord` (per case: each side's outcome, the result
shapes, the compat id that explains a difference), :data:`RECORDS` (every method run in this
session, for the terminal summary and ``.cache/differential/report.json``) and the summary text.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from differential.allowed import allowed_for
from differential.cases import ABSENT, PLANS, Case, cases_for
from differential.harness import RUNS_ROOT, WINDOW, Message, Outcome, Pair, Side, make_states, substitute


@dataclass
class CaseRecord:
    label: str
    params: Any
    reference: Outcome
    ours: Outcome
    compat: str | None = None

    @property
    def differs(self) -> bool:
        return self.reference.kind != self.ours.kind

    @property
    def unexplained(self) -> bool:
        return self.differs and self.compat is None

    @property
    def shape_differs(self) -> bool:
        return self.reference.kind == self.ours.kind == "result" and self.reference.shape != self.ours.shape

    def describe(self) -> str:
        params = "<absent>" if self.params is ABSENT else json.dumps(self.params, ensure_ascii=False)
        lines = [
            f"  {self.label}: reference {self.reference.label()}, ours {self.ours.label()}",
            f"    params: {params[:300]}",
        ]
        lines += [
            f"    {side}: {o.message}" for side, o in (("reference", self.reference), ("ours", self.ours)) if o.message
        ]
        return "\n".join(lines)


@dataclass
class MethodRecord:
    method: str
    cases: list[CaseRecord] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    #: Wall time for the method on both sides, state creation included.
    seconds: float = 0.0

    def count(self, predicate: str) -> int:
        return sum(1 for case in self.cases if getattr(case, predicate))


#: Every method run in this session, in order (read by the terminal summary hook).
RECORDS: list[MethodRecord] = []


def _request(side: Side, method: str, params: Any, variables: dict[str, str]) -> Message:
    number = side.new_id()
    # Alternate integer and string ids, so every method sees both id types.
    message: Message = {"id": number if number % 2 else f"req-{number}", "method": method}
    if params is not ABSENT:
        message["params"] = substitute(params, variables)
    return message


async def _side_outcomes(side: Side, method: str, cases: list[Case], states: list[dict[str, str]]) -> list[Outcome]:
    plan = PLANS[method]
    messages = [_request(side, method, c.params, {**side.vars, **s}) for c, s in zip(cases, states, strict=True)]
    return await side.run(messages, 1 if plan.sequential else WINDOW)


async def _initialize_outcomes(side: Side, cases: list[Case]) -> list[Outcome]:
    """``initialize`` changes its connection: each case runs on a connection that has not yet
    been initialized (a new process once one succeeded)."""
    outcomes = []
    connection: Side | None = None
    try:
        for case in cases:
            if connection is None:
                connection = side.sibling()
                await connection.spawn()
            outcome = await connection.outcome(_request(connection, "initialize", case.params, connection.vars))
            outcomes.append(outcome)
            if outcome.kind != "error":
                await connection.close()
                connection = None
    finally:
        if connection is not None:
            await connection.close()
    return outcomes


async def run_method(pair: Pair, method: str) -> MethodRecord:
    plan = PLANS[method]
    cases = cases_for(method)
    record = MethodRecord(method, excluded=dict(plan.excluded))
    started = time.perf_counter()
    if plan.state == "connection":
        reference, ours = await pair.each(lambda side: _initialize_outcomes(side, cases))
    else:

        async def side_run(side: Side) -> list[Outcome]:
            if plan.state in ("none", "shared"):
                states = [{"case": str(i)} for i in range(len(cases))]
            elif plan.state_once:
                states = (await make_states(side, plan.state, 1)) * len(cases)
            else:
                states = await make_states(side, plan.state, len(cases))
            return await _side_outcomes(side, method, cases, states)

        reference, ours = await pair.each(side_run)
    record.seconds = time.perf_counter() - started
    for case, ref, our in zip(cases, reference, ours, strict=True):
        entry = allowed_for(method, case.label) if ref.kind != our.kind else None
        record.cases.append(CaseRecord(case.label, case.params, ref, our, entry.compat if entry else None))
    RECORDS.append(record)
    return record


#: Request ids of every JSON type, sent with a method that always succeeds.
ID_VARIANTS: list[tuple[str, Any]] = [
    ("int 0", 0),
    ("int -1", -1),
    ("int 2^53", 2**53),
    ("int64 max", 2**63 - 1),
    ("int64 max + 1", 2**63),
    ("string empty", ""),
    ("string unicode", "ü ✓ 日本"),
    ("string large", "i" * 10_000),
    ("float", 1.5),
    ("true", True),
    ("null", None),
    ("object", {"a": 1}),
    ("array", [1]),
]
#: How long a side may take to answer an id before it counts as not answered at all. A missing
#: reply can only be told by a bound; the sentinel request sent after it bounds the wait already.
_ABSENT_AFTER = 0.5


async def _id_outcome(side: Side, request_id: Any) -> Outcome:
    future = side.expect(request_id)
    before = len(side.unmatched)
    await side.write({"id": request_id, "method": "thread/loaded/list", "params": {}})
    await side.call("thread/loaded/list", {})  # replies to one connection come in order
    try:
        return Outcome.of(await asyncio.wait_for(future, _ABSENT_AFTER))
    except TimeoutError:
        side.forget(request_id)
    stray = [m for m in side.unmatched[before:] if m.get("id") is None]
    return Outcome.of(stray[0]) if stray else Outcome("timeout", message="no reply")


async def run_request_ids(pair: Pair) -> MethodRecord:
    record = MethodRecord("(request ids)")

    async def side_run(side: Side) -> list[Outcome]:
        return [await _id_outcome(side, request_id) for _, request_id in ID_VARIANTS]

    reference, ours = await pair.each(side_run)
    for (label, request_id), ref, our in zip(ID_VARIANTS, reference, ours, strict=True):
        entry = allowed_for(record.method, f"id {label}") if ref.kind != our.kind else None
        record.cases.append(CaseRecord(f"id {label}", {"id": request_id}, ref, our, entry.compat if entry else None))
    RECORDS.append(record)
    return record


# --------------------------------------------------------------------------- reporting


def summary_lines() -> list[str]:
    widths = (5, 6, 6, 7, 6, 6, 6)
    names = ("cases", "result", "error", "allowed", "FAILED", "shape≠", "secs")
    lines = [f"{'method':28} " + " ".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True))]
    totals = [0.0] * len(widths)
    for record in RECORDS:
        row = [
            len(record.cases),
            sum(1 for c in record.cases if c.reference.kind == c.ours.kind == "result"),
            sum(1 for c in record.cases if c.reference.kind == c.ours.kind == "error"),
            sum(1 for c in record.cases if c.differs and c.compat),
            record.count("unexplained"),
            record.count("shape_differs"),
            round(record.seconds, 1),
        ]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        lines.append(f"{record.method:28} " + " ".join(f"{v:>{w}}" for v, w in zip(row, widths, strict=True)))
    totals = [*(int(t) for t in totals[:-1]), round(totals[-1], 1)]
    lines.append(f"{'total':28} " + " ".join(f"{v:>{w}}" for v, w in zip(totals, widths, strict=True)))
    excluded = [(r.method, shape, why) for r in RECORDS for shape, why in r.excluded.items()]
    lines += [f"not sent: {method} {shape}: {why}" for method, shape, why in excluded]
    return lines


def write_report() -> str:
    """Every case of this session, both sides, as JSON; returns the file's path."""
    RUNS_ROOT.mkdir(parents=True, exist_ok=True)
    path = RUNS_ROOT / "report.json"
    data = [
        {
            "method": record.method,
            "cases": [
                {
                    "label": case.label,
                    "params": "<absent>" if case.params is ABSENT else case.params,
                    "reference": _outcome_json(case.reference),
                    "ours": _outcome_json(case.ours),
                    "compat": case.compat,
                }
                for case in record.cases
            ],
        }
        for record in RECORDS
    ]
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=repr)[:50_000_000])
    return str(path)


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"kind": outcome.kind, "code": outcome.code, "message": outcome.message, "shape": outcome.shape}
