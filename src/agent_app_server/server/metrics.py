"""What one server counts, and its Prometheus text exposition (``/metrics``).

Owns: :class:`ServerMetrics`, one per :class:`~agent_app_server.server.app.AppServer`. The hot
paths bump plain counters here (a dict increment, a bisect for a latency bucket: no locks, no
``prometheus_client`` objects); gauges (connections, outbound queues, pending approvals, running
turns, the replay log's size) are read from the server's state when scraped. :meth:`render`
hands both to a per-server ``CollectorRegistry`` (never the process-global default registry:
several servers may run in one process) and returns the text format. ``prometheus_client`` is
imported on the first scrape, so a server nobody scrapes never loads it.

The names, their labels and where each number comes from are listed in the README ("Metrics").
Every label value comes from a bounded set (method names we serve, known decisions and
statuses, at most :data:`MAX_MODELS` model names), so a client cannot grow the exposition by
inventing names.
Layer: server.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..protocol import METHODS
from ..rpc.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    SERVER_OVERLOADED,
)

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from .app import AppServer

PREFIX = "agent_app_server"
#: Upper bounds (seconds) of the request latency buckets: most requests take well under a
#: millisecond here, a few (``turn/start`` waiting for its thread, ``command/exec``) seconds.
LATENCY_BUCKETS = (
    *(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05),
    *(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OUTCOMES = {
    None: "ok",
    INVALID_REQUEST: "invalid_request",
    METHOD_NOT_FOUND: "method_not_found",
    INVALID_PARAMS: "invalid_params",
    INTERNAL_ERROR: "internal_error",
    SERVER_OVERLOADED: "overloaded",
}
#: A method we do not serve is counted under this name (clients choose method names freely).
UNKNOWN_METHOD = "unknown"
#: Distinct ``model`` label values; tokens of further models count under ``other`` (a thread's
#: model is the client's choice, and a permissive provider answers any name).
MAX_MODELS = 64
#: The decisions of the protocol's approval responses; anything else counts as ``other``.
DECISIONS = frozenset(
    {"accept", "acceptForSession", "acceptWithExecpolicyAmendment", "applyNetworkPolicyAmendment", "decline", "cancel"}
)
COMMAND_STATUSES = frozenset({"completed", "failed", "declined", "inProgress"})
TURN_STATUSES = frozenset({"completed", "failed", "interrupted"})
#: ``last`` token usage fields of ``thread/tokenUsage/updated`` → the ``kind`` label.
TOKEN_KINDS = (
    ("inputTokens", "input"),
    ("cachedInputTokens", "cached_input"),
    ("outputTokens", "output"),
    ("reasoningOutputTokens", "reasoning_output"),
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Latency:
    """One method's request durations: a count per bucket (not cumulative), their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0


class ServerMetrics:
    """The counters of one server and the scrape that exposes them."""

    def __init__(self, app: AppServer) -> None:
        self._app = app
        self.connections_opened = 0
        #: (method, outcome) → requests answered.
        self.requests: dict[tuple[str, str], int] = {}
        self.latency: dict[str, _Latency] = {}
        self.turns: dict[str, int] = {}
        #: (model, kind) → tokens.
        self.tokens: dict[tuple[str, str], int] = {}
        #: server request method → approvals waiting for an answer.
        self.approvals_pending: dict[str, int] = {}
        #: (server request method, decision) → approvals answered.
        self.approvals: dict[tuple[str, str], int] = {}
        self.command_executions: dict[str, int] = {}
        self._models: set[str] = set()
        self._watched: dict[str, Callable[[str, Any], None]] = {
            "turn/completed": self._turn_completed,
            "thread/tokenUsage/updated": self._token_usage,
            "item/completed": self._item_completed,
        }
        self._registry: CollectorRegistry | None = None
        #: Values gathered off the event loop just before a scrape (the replay log's file size).
        self._gathered: dict[str, float] = {}

    # ------------------------------------------------------------------ hooks (hot paths)

    def connection_opened(self) -> None:
        self.connections_opened += 1

    def request_answered(self, method: str, code: int | None, seconds: float) -> None:
        """A :data:`~agent_app_server.rpc.AnswerObserver`: every request the peer answered."""
        latency = self.latency.get(method)
        if latency is None:
            # A method's first answer (or one we do not serve): the registry lookup happens here,
            # not on every request.
            if method not in METHODS:
                method = UNKNOWN_METHOD
            latency = self.latency.setdefault(method, _Latency())
        key = (method, OUTCOMES.get(code, "error"))
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        if code != SERVER_OVERLOADED:  # refused without running: its 0 s would flatter the latency
            latency.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
            latency.total += seconds

    def answered_early(self, method: str) -> None:
        """The stdio fast start answered ``method`` (``initialize``, a first ``thread/start``)
        before the server (and its clock) ran: counted, without a duration."""
        key = (method, OUTCOMES[None])
        self.requests[key] = self.requests.get(key, 0) + 1

    def notified(self, thread_id: str, method: str, params: Any) -> None:
        """A thread notification on its way out (the few that carry something counted)."""
        watcher = self._watched.get(method)
        if watcher is not None and isinstance(params, dict):
            watcher(thread_id, params)

    def server_request_started(self, method: str) -> None:
        if method.endswith("requestApproval"):
            self.approvals_pending[method] = self.approvals_pending.get(method, 0) + 1

    def server_request_ended(self, method: str, answer: asyncio.Future[Any]) -> None:
        """``answer``: the first client answer (not done: nobody answered before it was withdrawn)."""
        if not method.endswith("requestApproval"):
            return
        self.approvals_pending[method] -= 1
        if not answer.done() or answer.cancelled():
            decision = "unanswered"
        elif answer.exception() is not None:
            decision = "error"
        else:
            decision = _decision(answer.result())
        key = (method, decision)
        self.approvals[key] = self.approvals.get(key, 0) + 1

    def _turn_completed(self, thread_id: str, params: dict[str, Any]) -> None:
        turn = params.get("turn")
        status = turn.get("status") if isinstance(turn, dict) else None
        status = status if status in TURN_STATUSES else "other"
        self.turns[status] = self.turns.get(status, 0) + 1

    def _token_usage(self, thread_id: str, params: dict[str, Any]) -> None:
        usage = params.get("tokenUsage")
        last = usage.get("last") if isinstance(usage, dict) else None
        if not isinstance(last, dict):
            return
        thread = self._app.threads.loaded(thread_id)
        model = thread.settings.model if thread is not None else "unknown"
        models = self._models
        if model not in models:
            if len(models) >= MAX_MODELS:
                model = "other"
            models.add(model)
        tokens = self.tokens
        for field, kind in TOKEN_KINDS:
            count = last.get(field)
            if isinstance(count, int) and count > 0:
                tokens[model, kind] = tokens.get((model, kind), 0) + count

    def _item_completed(self, thread_id: str, params: dict[str, Any]) -> None:
        item = params.get("item")
        if not isinstance(item, dict) or item.get("type") != "commandExecution":
            return
        status = item.get("status")
        status = status if status in COMMAND_STATUSES else "other"
        self.command_executions[status] = self.command_executions.get(status, 0) + 1

    # ------------------------------------------------------------------ scrape

    async def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of this server now, and its content type."""
        self._gathered["replay_log_bytes"] = await self._app.replay.disk_bytes()
        registry = self._registry
        if registry is None:
            from prometheus_client import CollectorRegistry

            registry = self._registry = CollectorRegistry()
            registry.register(_Collector(self))
        from prometheus_client import generate_latest

        return generate_latest(registry), CONTENT_TYPE

    def families(self) -> Iterator[Any]:
        """Every metric family, built from the counters and the server's state (called by the
        registry during :meth:`render`)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        counter, gauge = CounterMetricFamily, GaugeMetricFamily
        app = self._app
        queued = [c.peer.queued_outbound for c in app.connections.values() if c.peer is not None]
        loaded = [app.threads.loaded(thread_id) for thread_id in app.threads.loaded_ids()]
        running = sum(1 for thread in loaded if thread is not None and thread.active is not None)
        overloaded = sum(count for (_, outcome), count in self.requests.items() if outcome == "overloaded")
        # The turn machinery loads on first use: no turn yet, no denial yet.
        turns = app.__dict__.get("turns")
        replay = app.replay

        yield _family(gauge, "connections", "Client connections open now.", len(app.connections))
        yield _family(counter, "connections_opened", "Client connections accepted.", self.connections_opened)
        yield _family(
            counter, "requests", "Requests answered, by method and outcome.", self.requests, ("method", "outcome")
        )
        yield _family(counter, "overloaded_answers", "Requests refused with -32001 (too many in flight).", overloaded)
        yield self._durations(HistogramMetricFamily)
        yield _family(gauge, "outbound_queue_messages", "Messages waiting to be written, all clients.", sum(queued))
        yield _family(
            gauge, "outbound_queue_max_messages", "Messages waiting for the slowest client.", max(queued, default=0)
        )
        yield _family(gauge, "threads_loaded", "Threads loaded in memory.", len(loaded))
        yield _family(gauge, "turns_running", "Turns running now.", running)
        yield _family(counter, "turns", "Turns ended, by status.", self.turns, ("status",))
        yield _family(counter, "tokens", "Model tokens, by model and kind.", self.tokens, ("model", "kind"))
        yield _family(
            gauge, "approvals_pending", "Approvals unanswered, by method.", self.approvals_pending, ("method",)
        )
        yield _family(
            counter, "approvals", "Approvals answered, by method and decision.", self.approvals, ("method", "decision")
        )
        yield _family(
            counter, "command_executions", "Agent commands ended, by status.", self.command_executions, ("status",)
        )
        denials = turns.tools.sandbox_denials if turns is not None else 0
        yield _family(counter, "sandbox_denials", "Agent commands whose sandboxed run was denied.", denials)
        replay_bytes = self._gathered.get("replay_log_bytes", 0)
        yield _family(gauge, "replay_log_bytes", "Size on disk of the replay log.", replay_bytes)
        yield _family(
            gauge, "replay_log_pending_writes", "Notifications not yet in the replay log.", replay.pending_writes
        )
        yield _family(
            gauge, "replay_log_memory_notifications", "Notifications kept in memory for replay.", replay.memory_entries
        )

    def _durations(self, family: Any) -> Any:
        durations = family(
            f"{PREFIX}_request_duration_seconds",
            "Time from reading a request to queuing its answer, by method.",
            labels=["method"],
        )
        for method, latency in sorted(self.latency.items()):
            if not any(latency.counts):
                continue  # only refused so far
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), latency.counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            durations.add_metric([method], buckets, latency.total)
        return durations


class _Collector:
    """A ``prometheus_client`` collector (``collect()``) over one :class:`ServerMetrics`."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Any]:
        return self._metrics.families()


def _decision(result: Any) -> str:
    decision = result.get("decision") if isinstance(result, dict) else None
    if isinstance(decision, dict) and len(decision) == 1:
        decision = next(iter(decision))
    return decision if isinstance(decision, str) and decision in DECISIONS else "other"


def _family(
    family: Any, name: str, documentation: str, value: float | dict[Any, int], labels: tuple[str, ...] = ()
) -> Any:
    """A family of one sample (``value`` a number) or one per key of ``value`` (its label values:
    a tuple, or a string for one label)."""
    if not isinstance(value, dict):
        return family(f"{PREFIX}_{name}", documentation, value=value)
    metric = family(f"{PREFIX}_{name}", documentation, labels=list(labels))
    for key, count in sorted(value.items()):
        metric.add_metric(list(key) if isinstance(key, tuple) else [key], count)
    return metric
