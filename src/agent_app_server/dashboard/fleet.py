"""The dashboard's one model of everything it has seen on every server it watches.

Owns: the rows the page shows (servers, threads across servers, pending and answered approvals),
the live transcript of recently active threads, and the chart series (tokens per hour by model
and by server, turn outcomes over time, approval decisions). :meth:`Fleet.apply` folds one
notification into it; approvals come and go through :meth:`Fleet.ask` / :meth:`Fleet.decide` /
:meth:`Fleet.resolved`. Every change is reported to the registered :class:`FleetListener`\\ s (one
per open page) as "this row changed", never as a copy: a page that falls behind reads the row's
current state once, however many deltas went by. No I/O here; the audit log is a callback.

Layer: dashboard (works on the wire's JSON, imports nothing of the project).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

#: Server requests the page answers; every other one is left to the clients that can.
APPROVAL_METHODS = frozenset({"item/commandExecution/requestApproval", "item/fileChange/requestApproval"})
#: Decisions the page offers (both approval kinds accept them).
DECISIONS = ("accept", "decline")
#: Who answered an approval, as the page and the audit log show it.
BY_PAGE = "this dashboard"
BY_OTHER = "another client"

#: Items kept per thread transcript, and transcripts kept (least recently active dropped first).
TRANSCRIPT_ITEMS = 400
TRANSCRIPTS = 200
#: Approvals answered that stay listed (with who answered) after they are resolved.
ANSWERED_KEPT = 50
#: Chart buckets: tokens per hour, turn outcomes per five minutes; how many buckets are kept.
TOKEN_BUCKET_S = 3600
TURN_BUCKET_S = 300
BUCKETS_KEPT = 48

RowKind = Literal["servers", "threads", "approvals", "charts"]
#: Delta notifications and the item field they extend.
_DELTA_FIELDS = {
    "item/agentMessage/delta": "text",
    "item/commandExecution/outputDelta": "aggregatedOutput",
    "item/plan/delta": "text",
}


class FleetListener(Protocol):
    """An open page: told which rows changed and, for the thread it shows, each transcript step."""

    def changed(self, kind: RowKind, key: str) -> None: ...

    def transcript(self, thread_key: str, op: dict[str, Any]) -> None: ...


def thread_key(server: str, thread_id: str) -> str:
    """A thread's key across servers (server names cannot contain ``/``)."""
    return f"{server}/{thread_id}"


@dataclass
class ServerRow:
    name: str
    url: str
    state: str = "connecting"
    version: str | None = None
    error: str | None = None
    #: From ``server/diagnostics`` (None: the server does not offer it, e.g. the reference).
    clients: int | None = None
    active_turns: int | None = None
    diagnostics: bool | None = None
    reconnects: int = 0

    def to_json(self, fleet: Fleet) -> dict[str, Any]:
        seen_active = sum(1 for row in fleet.threads.values() if row.server == self.name and row.status == "active")
        return {
            "key": self.name,
            "name": self.name,
            "url": self.url,
            "state": self.state,
            "version": self.version,
            "error": self.error,
            "clients": self.clients,
            "activeTurns": self.active_turns if self.active_turns is not None else seen_active,
            "diagnostics": self.diagnostics,
            "reconnects": self.reconnects,
            "threads": sum(1 for row in fleet.threads.values() if row.server == self.name),
        }


@dataclass
class ThreadRow:
    server: str
    id: str
    name: str | None = None
    preview: str = ""
    cwd: str = ""
    source: str = ""
    model: str | None = None
    status: str = "notLoaded"
    last_activity: float = 0.0
    turns: int = 0

    @property
    def key(self) -> str:
        return thread_key(self.server, self.id)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "server": self.server,
            "id": self.id,
            "name": self.name,
            "preview": self.preview,
            "cwd": self.cwd,
            "source": self.source,
            "model": self.model,
            "status": self.status,
            "lastActivity": self.last_activity,
            "turns": self.turns,
        }


@dataclass
class Approval:
    key: str
    server: str
    thread_id: str
    turn_id: str
    item_id: str
    method: str
    #: What the dedup of a re-ask (after a reconnect) compares: the method and its params.
    identity: str
    #: The id the server gave the request on the current connection (a re-ask changes it).
    request_id: Any
    kind: str
    subject: str
    cwd: str | None
    reason: str | None
    asked_at: float
    answer: asyncio.Future[dict[str, Any]]
    decision: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None
    #: Set once written to the audit log (a decision another client made is known later).
    audited: bool = False

    @property
    def pending(self) -> bool:
        return self.answered_by is None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "server": self.server,
            "threadId": self.thread_id,
            "threadKey": thread_key(self.server, self.thread_id),
            "kind": self.kind,
            "subject": self.subject,
            "cwd": self.cwd,
            "reason": self.reason,
            "askedAt": self.asked_at,
            "decision": self.decision,
            "answeredBy": self.answered_by,
            "answeredAt": self.answered_at,
        }


@dataclass
class AuditEntry:
    """One approval decision, as the audit log stores it."""

    at: float
    server: str
    thread_id: str
    turn_id: str
    item_id: str
    kind: str
    subject: str
    decision: str
    decided_by: str


@dataclass
class Transcript:
    """The turns and items of one thread as they stream (bounded; older items fall off)."""

    items: collections.OrderedDict[str, dict[str, Any]] = field(default_factory=collections.OrderedDict)
    turns: dict[str, str] = field(default_factory=dict)
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"items": list(self.items.values()), "turns": self.turns, "complete": self.complete}


@dataclass
class Charts:
    tokens_by_model: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    tokens_by_server: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    turns: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    approvals: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "tokensByModel": _series(self.tokens_by_model, TOKEN_BUCKET_S),
            "tokensByServer": _series(self.tokens_by_server, TOKEN_BUCKET_S),
            "turns": _series(self.turns, TURN_BUCKET_S),
            "approvals": [
                {"server": server, "decision": decision, "count": count}
                for (server, decision), count in sorted(self.approvals.items())
            ],
        }


def _series(counter: collections.Counter[tuple[int, str]], width: int) -> dict[str, Any]:
    buckets = sorted({bucket for bucket, _ in counter})[-BUCKETS_KEPT:]
    names = sorted({name for _, name in counter})
    return {
        "bucketSeconds": width,
        "buckets": buckets,
        "series": {name: [counter.get((bucket, name), 0) for bucket in buckets] for name in names},
    }


class Fleet:
    """Everything seen, and who to tell when it changes."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.servers: dict[str, ServerRow] = {}
        self.threads: dict[str, ThreadRow] = {}
        self.approvals: dict[str, Approval] = {}
        self.transcripts: collections.OrderedDict[str, Transcript] = collections.OrderedDict()
        self.charts = Charts()
        self.listeners: set[FleetListener] = set()
        #: Called with each decision once it is known (the audit log).
        self.on_decided: Callable[[AuditEntry], None] | None = None
        #: Notifications folded in, all servers together (the bench reads it).
        self.events = 0
        self._approval_ids = itertools.count(1)

    # ------------------------------------------------------------------ telling the pages

    def _changed(self, kind: RowKind, key: str) -> None:
        for listener in self.listeners:
            listener.changed(kind, key)

    def _step(self, key: str, op: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener.transcript(key, op)

    def row(self, kind: RowKind, key: str) -> dict[str, Any] | None:
        """The current state of one row (None: it is gone)."""
        if kind == "servers":
            server = self.servers.get(key)
            return server.to_json(self) if server is not None else None
        if kind == "threads":
            thread = self.threads.get(key)
            return thread.to_json() if thread is not None else None
        if kind == "approvals":
            approval = self.approvals.get(key)
            return approval.to_json() if approval is not None else None
        return self.charts.to_json()

    def snapshot(self) -> dict[str, Any]:
        return {
            "servers": [server.to_json(self) for server in self.servers.values()],
            "threads": [thread.to_json() for thread in self.threads.values()],
            "approvals": [approval.to_json() for approval in self.approvals.values()],
            "charts": self.charts.to_json(),
            "stats": {"events": self.events},
        }

    # ------------------------------------------------------------------ servers

    def add_server(self, name: str, url: str) -> ServerRow:
        row = self.servers[name] = ServerRow(name, url)
        self._changed("servers", name)
        return row

    def server_state(self, name: str, state: str, *, error: str | None = None, version: str | None = None) -> None:
        row = self.servers[name]
        row.state = state
        row.error = error
        if version is not None:
            row.version = version
        if state == "reconnecting":
            row.reconnects += 1
        self._changed("servers", name)

    def diagnostics(self, name: str, gauges: dict[str, int] | None) -> None:
        """``server/diagnostics`` gauges (None: the server does not offer the method)."""
        row = self.servers[name]
        row.diagnostics = gauges is not None
        if gauges is not None:
            connections = gauges.get("app.connections")
            # The count includes this dashboard's own connection.
            row.clients = max(connections - 1, 0) if connections is not None else None
            row.active_turns = gauges.get("core.turns.running")
        self._changed("servers", name)

    # ------------------------------------------------------------------ threads

    def thread_seen(self, server: str, thread: dict[str, Any]) -> ThreadRow:
        """A ``Thread`` object (from ``thread/list``, ``thread/read`` or ``thread/started``)."""
        thread_id = str(thread.get("id"))
        key = thread_key(server, thread_id)
        row = self.threads.get(key)
        before = row.to_json() if row is not None else None
        if row is None:
            row = self.threads[key] = ThreadRow(server, thread_id)
        row.name = thread.get("name") or row.name
        row.preview = thread.get("preview") or row.preview
        row.cwd = thread.get("cwd") or row.cwd
        row.source = _source_name(thread.get("source")) or row.source
        row.model = thread.get("model") or row.model
        status = thread.get("status")
        if isinstance(status, dict) and isinstance(status.get("type"), str):
            row.status = status["type"]
        updated = thread.get("updatedAt")
        if isinstance(updated, int | float):
            row.last_activity = max(row.last_activity, float(updated))
        if row.to_json() != before:  # a re-listing changes nothing most of the time
            self._changed("threads", key)
        return row

    def _thread(self, server: str, thread_id: str) -> ThreadRow:
        key = thread_key(server, thread_id)
        row = self.threads.get(key)
        if row is None:
            row = self.threads[key] = ThreadRow(server, thread_id)
        return row

    def transcript(self, key: str, *, create: bool = True) -> Transcript | None:
        transcript = self.transcripts.get(key)
        if transcript is None:
            if not create:
                return None
            transcript = self.transcripts[key] = Transcript()
            while len(self.transcripts) > TRANSCRIPTS:
                self.transcripts.popitem(last=False)
        else:
            self.transcripts.move_to_end(key)
        return transcript

    def load_history(self, server: str, thread: dict[str, Any]) -> Transcript:
        """A thread read with its turns (``thread/read includeTurns``): the transcript from the
        start, with what streamed meanwhile kept."""
        row = self.thread_seen(server, thread)
        live = self.transcript(row.key)
        assert live is not None
        history = Transcript(complete=True)
        for turn in thread.get("turns") or []:
            history.turns[str(turn.get("id"))] = str(turn.get("status"))
            for item in turn.get("items") or []:
                history.items[str(item.get("id"))] = {**item, "turnId": turn.get("id")}
        for item_id, item in live.items.items():
            history.items[item_id] = item
        history.turns.update(live.turns)
        _trim(history.items)
        self.transcripts[row.key] = history
        return history

    # ------------------------------------------------------------------ notifications

    def apply(self, server: str, method: str, params: Any) -> None:
        """Fold one notification from ``server`` in."""
        self.events += 1
        if not isinstance(params, dict):
            return
        thread_id = params.get("threadId")
        if method == "thread/started":
            thread = params.get("thread")
            if isinstance(thread, dict):
                row = self.thread_seen(server, thread)
                row.last_activity = self.clock()
            return
        if not isinstance(thread_id, str):
            return
        row = self._thread(server, thread_id)
        key = row.key
        row.last_activity = self.clock()
        self._changed("threads", key)
        field_name = _DELTA_FIELDS.get(method)
        if field_name is not None:
            self._delta(key, params, field_name)
            return
        handler = _HANDLERS.get(method)
        if handler is not None:
            handler(self, server, row, params)

    def _delta(self, key: str, params: dict[str, Any], field_name: str) -> None:
        transcript = self.transcript(key)
        assert transcript is not None
        item_id = str(params.get("itemId"))
        delta = params.get("delta")
        if not isinstance(delta, str):
            return
        item = transcript.items.get(item_id)
        if item is not None:
            item[field_name] = (item.get(field_name) or "") + delta
        self._step(key, {"op": "delta", "itemId": item_id, "field": field_name, "delta": delta})

    def _item(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        item = params.get("item")
        if not isinstance(item, dict):
            return
        transcript = self.transcript(row.key)
        assert transcript is not None
        item = {**item, "turnId": params.get("turnId")}
        item_id = str(item.get("id"))
        transcript.items[item_id] = item
        _trim(transcript.items)
        self._step(row.key, {"op": "item", "item": item})
        if item.get("type") in ("commandExecution", "fileChange") and item.get("status") != "inProgress":
            self._item_finished(server, row.id, item_id, str(item.get("status")))

    def _turn_started(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        turn = params.get("turn") or {}
        row.status = "active"
        transcript = self.transcript(row.key)
        assert transcript is not None
        transcript.turns[str(turn.get("id"))] = "inProgress"
        self._step(row.key, {"op": "turn", "turnId": turn.get("id"), "status": "inProgress"})
        self._changed("servers", server)

    def _turn_completed(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        turn = params.get("turn") or {}
        turn_id = str(turn.get("id"))
        status = str(turn.get("status"))
        row.turns += 1
        if row.status == "active":
            row.status = "idle"
        transcript = self.transcript(row.key)
        assert transcript is not None
        transcript.turns[turn_id] = status
        self._step(row.key, {"op": "turn", "turnId": turn_id, "status": status})
        bucket = int(self.clock()) // TURN_BUCKET_S * TURN_BUCKET_S
        self.charts.turns[(bucket, status)] += 1
        self._changed("charts", "")
        self._changed("servers", server)
        # An approval of this turn nobody answered is over: the turn no longer waits for it.
        for approval in list(self.approvals.values()):
            if approval.server == server and approval.turn_id == turn_id:
                self._settle(approval, approval.decision or "unknown")

    def _status(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        status = params.get("status")
        if isinstance(status, dict) and isinstance(status.get("type"), str):
            row.status = status["type"]
        self._changed("servers", server)

    def _name(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        row.name = params.get("threadName")

    def _tokens(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        usage = params.get("tokenUsage") or {}
        last = usage.get("last") or {}
        tokens = last.get("totalTokens")
        if not isinstance(tokens, int) or tokens <= 0:
            return
        bucket = int(self.clock()) // TOKEN_BUCKET_S * TOKEN_BUCKET_S
        self.charts.tokens_by_model[(bucket, row.model or "unknown")] += tokens
        self.charts.tokens_by_server[(bucket, server)] += tokens
        self._changed("charts", "")

    def _resolved(self, server: str, row: ThreadRow, params: dict[str, Any]) -> None:
        self.resolved(server, params.get("requestId"))

    # ------------------------------------------------------------------ approvals

    def ask(self, server: str, request_id: Any, method: str, params: dict[str, Any]) -> Approval:
        """The server asks for an approval (again, after a reconnect: the same approval, new id)."""
        identity = method + json.dumps(params, sort_keys=True, separators=(",", ":"))
        for approval in self.approvals.values():
            if approval.server == server and approval.identity == identity and approval.pending:
                approval.request_id = request_id
                return approval
        thread_id = str(params.get("threadId"))
        item_id = str(params.get("itemId"))
        kind, subject = self._subject(server, thread_id, item_id, method, params)
        approval = Approval(
            key=f"{server}:{next(self._approval_ids)}",
            server=server,
            thread_id=thread_id,
            turn_id=str(params.get("turnId")),
            item_id=item_id,
            method=method,
            identity=identity,
            request_id=request_id,
            kind=kind,
            subject=subject,
            cwd=params.get("cwd"),
            reason=params.get("reason"),
            asked_at=self.clock(),
            answer=asyncio.get_running_loop().create_future(),
        )
        self.approvals[approval.key] = approval
        self._changed("approvals", approval.key)
        return approval

    def _subject(
        self, server: str, thread_id: str, item_id: str, method: str, params: dict[str, Any]
    ) -> tuple[str, str]:
        if method == "item/commandExecution/requestApproval":
            command = params.get("command")
            if not command:
                item = self._known_item(server, thread_id, item_id)
                command = item.get("command") if item else None
            return "command", str(command or "(command not shown by the server)")
        item = self._known_item(server, thread_id, item_id)
        paths = [str(change.get("path")) for change in (item or {}).get("changes") or [] if isinstance(change, dict)]
        return "files", ", ".join(paths) or str(params.get("grantRoot") or "(files not shown by the server)")

    def _known_item(self, server: str, thread_id: str, item_id: str) -> dict[str, Any] | None:
        transcript = self.transcripts.get(thread_key(server, thread_id))
        return transcript.items.get(item_id) if transcript is not None else None

    def decide(self, key: str, decision: str) -> bool:
        """The page's answer; False when the approval is gone or already answered (by anyone)."""
        approval = self.approvals.get(key)
        if approval is None or not approval.pending or approval.answer.done():
            return False
        approval.answer.set_result({"decision": decision})
        approval.decision = decision
        self._answered(approval, BY_PAGE)
        self._audit(approval)
        return True

    def resolved(self, server: str, request_id: Any) -> None:
        """``serverRequest/resolved``: someone answered (us, or another client first)."""
        for approval in self.approvals.values():
            if approval.server == server and approval.request_id == request_id and approval.pending:
                _withdraw(approval)
                self._answered(approval, BY_OTHER)
                return

    def _item_finished(self, server: str, thread_id: str, item_id: str, status: str) -> None:
        """A command or file change finished: its outcome tells what another client decided."""
        for approval in list(self.approvals.values()):
            if approval.server == server and approval.thread_id == thread_id and approval.item_id == item_id:
                self._settle(approval, "decline" if status == "declined" else "accept")

    def _settle(self, approval: Approval, decision: str) -> None:
        if approval.pending:
            _withdraw(approval)
            self._answered(approval, BY_OTHER)
        if approval.decision is None:
            approval.decision = decision
        self._audit(approval)
        self._changed("approvals", approval.key)

    def _answered(self, approval: Approval, by: str) -> None:
        approval.answered_by = by
        approval.answered_at = self.clock()
        self._changed("approvals", approval.key)
        answered = [a for a in self.approvals.values() if not a.pending]
        for old in answered[: max(len(answered) - ANSWERED_KEPT, 0)]:
            del self.approvals[old.key]
            self._changed("approvals", old.key)

    def _audit(self, approval: Approval) -> None:
        if approval.audited or approval.decision is None:
            return
        approval.audited = True
        self.charts.approvals[(approval.server, approval.decision)] += 1
        self._changed("charts", "")
        if self.on_decided is not None:
            self.on_decided(
                AuditEntry(
                    at=approval.answered_at or self.clock(),
                    server=approval.server,
                    thread_id=approval.thread_id,
                    turn_id=approval.turn_id,
                    item_id=approval.item_id,
                    kind=approval.kind,
                    subject=approval.subject,
                    decision=approval.decision,
                    decided_by=approval.answered_by or BY_OTHER,
                )
            )

    def server_gone(self, server: str) -> None:
        """The connection is lost for good: its pending approvals go (the server asks again
        whatever still waits when the dashboard is back)."""
        for approval in list(self.approvals.values()):
            if approval.server == server and approval.pending:
                approval.answer.cancel()
                del self.approvals[approval.key]
                self._changed("approvals", approval.key)


class Withdrawn(Exception):
    """The request was answered by someone else (or is over) before the page answered."""

    def __init__(self, method: str) -> None:
        super().__init__(f"{method} was answered by another client before this dashboard answered")


def _withdraw(approval: Approval) -> None:
    """The page's answer is no longer wanted: the server request's handler stops waiting."""
    if not approval.answer.done():
        approval.answer.set_exception(Withdrawn(approval.method))
        # Whoever waits sees it; nobody waiting (the connection closed) is no error to log.
        approval.answer.exception()


def _trim(items: collections.OrderedDict[str, dict[str, Any]]) -> None:
    while len(items) > TRANSCRIPT_ITEMS:
        items.popitem(last=False)


def _source_name(source: Any) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, dict) and source:
        return str(next(iter(source)))
    return ""


_Handler = Callable[[Fleet, str, ThreadRow, dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    "item/started": Fleet._item,
    "item/completed": Fleet._item,
    "turn/started": Fleet._turn_started,
    "turn/completed": Fleet._turn_completed,
    "thread/status/changed": Fleet._status,
    "thread/name/updated": Fleet._name,
    "thread/tokenUsage/updated": Fleet._tokens,
    "serverRequest/resolved": Fleet._resolved,
}
