"""The dashboard's model of what it saw (``Fleet``), fed the notifications and server requests a
server sends: who answered an approval and what was decided, a re-ask after a reconnect, an
approval whose turn ended unanswered, the chart series, and what each open page is told."""

from __future__ import annotations

from typing import Any

import pytest

from agent_app_server.dashboard.fleet import BY_OTHER, BY_PAGE, AuditEntry, Fleet, RowKind, Withdrawn

APPROVAL = "item/commandExecution/requestApproval"
NOW = 1_800_000_000.0


class Recorder:
    """A page and an audit log, as the fleet sees them."""

    def __init__(self) -> None:
        self.rows: list[tuple[RowKind, str]] = []
        self.steps: list[tuple[str, dict[str, Any]]] = []
        self.audit: list[AuditEntry] = []

    def changed(self, kind: RowKind, key: str) -> None:
        self.rows.append((kind, key))

    def transcript(self, thread_key: str, op: dict[str, Any]) -> None:
        self.steps.append((thread_key, op))


@pytest.fixture
def fleet() -> tuple[Fleet, Recorder]:
    model = Fleet(clock=lambda: NOW)
    seen = Recorder()
    model.listeners.add(seen)
    model.on_decided = seen.audit.append
    model.add_server("a", "ws://127.0.0.1:1")
    model.apply("a", "thread/started", {"thread": {"id": "t1", "cwd": "/w", "model": "m1", "source": "vscode"}})
    return model, seen


def ask(fleet: Fleet, request_id: int, item: str = "i1", turn: str = "u1") -> Any:
    params = {"threadId": "t1", "turnId": turn, "itemId": item, "startedAtMs": 1, "command": f"echo {item}"}
    return fleet.ask("a", request_id, APPROVAL, params)


async def test_the_page_answers_first(fleet: tuple[Fleet, Recorder]) -> None:
    model, seen = fleet
    approval = ask(model, 7)
    assert model.decide(approval.key, "accept")
    assert approval.answer.result() == {"decision": "accept"}
    model.apply("a", "serverRequest/resolved", {"threadId": "t1", "requestId": 7})
    assert (approval.answered_by, approval.decision) == (BY_PAGE, "accept")
    assert not model.decide(approval.key, "decline"), "answered already"
    assert [(e.subject, e.decision, e.decided_by) for e in seen.audit] == [("echo i1", "accept", BY_PAGE)]


async def test_another_client_answers_first_and_the_outcome_tells_the_decision(
    fleet: tuple[Fleet, Recorder],
) -> None:
    model, seen = fleet
    approval = ask(model, 7)
    model.apply("a", "serverRequest/resolved", {"threadId": "t1", "requestId": 7})
    with pytest.raises(Withdrawn):
        approval.answer.result()
    assert not model.decide(approval.key, "accept")
    assert seen.audit == [], "the decision is not known yet"
    item = {"type": "commandExecution", "id": "i1", "command": "echo i1", "status": "declined"}
    model.apply("a", "item/completed", {"threadId": "t1", "turnId": "u1", "item": item})
    assert [(e.decision, e.decided_by) for e in seen.audit] == [("decline", BY_OTHER)]
    assert model.charts.to_json()["approvals"] == [{"server": "a", "decision": "decline", "count": 1}]


async def test_a_re_ask_after_a_reconnect_is_the_same_approval(fleet: tuple[Fleet, Recorder]) -> None:
    model, _ = fleet
    first = ask(model, 7)
    again = ask(model, 3)
    assert again is first and first.request_id == 3
    assert [a.key for a in model.approvals.values()] == [first.key]


async def test_an_approval_unanswered_when_its_turn_ends_is_settled(fleet: tuple[Fleet, Recorder]) -> None:
    model, seen = fleet
    approval = ask(model, 7)
    model.apply("a", "turn/completed", {"threadId": "t1", "turn": {"id": "u1", "status": "interrupted"}})
    assert approval.answered_by == BY_OTHER and approval.answer.done()
    assert [e.decision for e in seen.audit] == ["unknown"]
    assert model.charts.to_json()["turns"]["series"] == {"interrupted": [1]}


async def test_tokens_are_charted_by_model_and_by_server_and_pages_see_the_stream(
    fleet: tuple[Fleet, Recorder],
) -> None:
    model, seen = fleet
    usage = {"total": {"totalTokens": 50}, "last": {"totalTokens": 30}}
    model.apply("a", "thread/tokenUsage/updated", {"threadId": "t1", "turnId": "u1", "tokenUsage": usage})
    model.apply("a", "thread/tokenUsage/updated", {"threadId": "t1", "turnId": "u1", "tokenUsage": usage})
    charts = model.charts.to_json()
    assert charts["tokensByModel"]["series"] == {"m1": [60]}
    assert charts["tokensByServer"]["series"] == {"a": [60]}

    item = {"type": "agentMessage", "id": "m", "text": ""}
    model.apply("a", "item/started", {"threadId": "t1", "turnId": "u1", "item": item})
    for word in ("hello ", "world"):
        model.apply("a", "item/agentMessage/delta", {"threadId": "t1", "turnId": "u1", "itemId": "m", "delta": word})
    transcript = model.transcript("a/t1")
    assert transcript is not None and transcript.items["m"]["text"] == "hello world"
    deltas = [op["delta"] for key, op in seen.steps if key == "a/t1" and op["op"] == "delta"]
    assert deltas == ["hello ", "world"]
    assert ("threads", "a/t1") in seen.rows and ("charts", "") in seen.rows
    row = model.row("threads", "a/t1")
    assert row is not None and (row["model"], row["source"], row["cwd"]) == ("m1", "vscode", "/w")
