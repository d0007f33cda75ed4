"""The running gateway: observes app servers and answers their approval requests by policy.

Owns: one observer connection per server (``capabilities.observeAll``; reconnected for as long
as the gateway runs), what it keeps of each server's threads (client, source, model, workspace)
and of the file changes awaiting approval, the decision path of a request (policy → answer,
escalate or leave it to people; dry runs answer nothing), the audit row of every request, and
reloading the policy (SIGHUP: an invalid file keeps the policy in force).
Layer: gateway (imports ``client``; ``protocol``, ``transport`` and ``rpc`` only through it).

Never unsafe by accident: every path that is not a deliberate decision of the policy (an error,
an unreachable webhook, an unknown request) declines or leaves the request to people; nothing is
accepted because something failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import WITHDRAWN, AsyncClient, Backoff, ClientError, ClientOptions, ConnectionLost, Event
from .escalation import EscalationFailed, Escalations, new_escalation_id
from .policy import Decision, Policy, PolicyError, load_policy
from .requests import ANSWERS, APPROVAL_METHODS, ApprovalRequest, ThreadInfo, approval_kind
from .store import GatewayStore, now

log = logging.getLogger("agent_app_server.gateway")

CLIENT_NAME = "agent_app_server_gateway"
#: A long-running gateway never gives up on a server: it keeps reconnecting, at most this far apart.
RECONNECT = Backoff(max_attempts=1_000_000, base_delay=0.1, max_delay=5.0)
#: Streamed output the gateway has no use for: not sent to it at all.
NOT_NEEDED = (
    "item/agentMessage/delta",
    "item/reasoning/summaryTextDelta",
    "item/reasoning/textDelta",
    "item/commandExecution/outputDelta",
    "item/fileChange/outputDelta",
    "item/plan/delta",
    "thread/tokenUsage/updated",
    "account/rateLimits/updated",
)


@dataclass(frozen=True, slots=True)
class ServerTarget:
    """``--server NAME=URL`` (or a bare URL, named after it)."""

    name: str
    url: str

    @classmethod
    def parse(cls, value: str) -> ServerTarget:
        name, separator, url = value.partition("=")
        if separator and not name.startswith(("ws:", "wss:", "unix:")):
            if not name or not url:
                raise ValueError(f"--server {value!r}: expected NAME=URL or URL")
            return cls(name, url)
        return cls(value, value)


@dataclass
class ObservedServer:
    """One observed server: its connection and what the gateway knows of its threads."""

    target: ServerTarget
    client: AsyncClient | None = None
    threads: dict[str, ThreadInfo] = field(default_factory=dict)
    #: fileChange item id → path → diff (from ``item/started``, until ``item/completed``).
    changes: dict[str, dict[str, str]] = field(default_factory=dict)

    def absorb(self, event: Event) -> None:
        """Called for each notification in wire order, before the requests that follow it."""
        method, params = event.method, event.params
        if not isinstance(params, dict):
            return
        if method == "thread/started":
            thread = params.get("thread")
            if isinstance(thread, dict) and isinstance(thread.get("id"), str):
                self.threads[thread["id"]] = ThreadInfo.from_thread(thread)
        elif method == "item/started":
            item = params.get("item")
            if isinstance(item, dict) and item.get("type") == "fileChange" and isinstance(item.get("id"), str):
                self.changes[item["id"]] = {
                    str(change.get("path")): str(change.get("diff") or "")
                    for change in item.get("changes") or []
                    if isinstance(change, dict)
                }
        elif method == "item/completed":
            item = params.get("item")
            if isinstance(item, dict):
                self.changes.pop(str(item.get("id")), None)


class Gateway:
    """``agent-app-server gateway``: start with :meth:`start`, stop with :meth:`close`."""

    def __init__(
        self,
        targets: list[ServerTarget],
        policy: Policy,
        store: GatewayStore,
        *,
        dry_run: bool = False,
        listen: tuple[str, int] | None = None,
        token: str | None = None,
    ) -> None:
        self.policy = policy
        self.store = store
        self.dry_run = dry_run
        self._listen = listen
        self._token = token
        #: The servers observed, in ``--server`` order.
        self.servers = [ObservedServer(target) for target in targets]
        self.escalations = Escalations(store, lambda: self.policy.escalation)
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Listen for callbacks, resume live escalations, and connect to every server (a server
        that cannot be reached at start is an error: the command line is probably wrong)."""
        await self.escalations.start(self._listen)
        if self.escalations.listening_url:
            log.info("callbacks on %s", self.escalations.listening_url)
        for observed in self.servers:
            await self._connect(observed)
            self._tasks.append(asyncio.get_running_loop().create_task(self._follow(observed)))
        mode = " (dry run: nothing is answered)" if self.dry_run else ""
        log.info(
            "ready: %d server(s), %d rule(s) from %s%s",
            len(self.servers),
            len(self.policy.rules),
            self.policy.source,
            mode,
        )

    async def close(self) -> None:
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for observed in self.servers:
            if observed.client is not None:
                await observed.client.aclose()
        await self.escalations.close()

    async def reload(self) -> bool:
        """Read the policy file again; an invalid one is reported and the old policy stays."""
        try:
            policy = await asyncio.to_thread(load_policy, self.policy.source)
        except PolicyError as exc:
            log.error("kept the previous policy: %s", exc)
            return False
        self.policy = policy
        log.info("policy reloaded from %s (%d rules)", policy.source, len(policy.rules))
        if policy.escalation is not None and self.escalations.listening_url is None:
            log.warning(
                "the policy escalates but this gateway has no callback endpoint (it was started without "
                "--listen and without [escalation]): decisions can only come by polling status_url"
            )
        return True

    async def _connect(self, observed: ObservedServer) -> None:
        # Handlers and the notification hook are in place before initialize: an observer is
        # asked what is already pending right after the handshake.
        options = ClientOptions(
            client_name=CLIENT_NAME,
            observe_all=True,
            reconnect=RECONNECT,
            opt_out_notification_methods=NOT_NEEDED,
            request_handlers={method: self._handler(observed, method) for method in APPROVAL_METHODS},
            withdrawable=frozenset(APPROVAL_METHODS),
            on_notification=observed.absorb,
            on_disconnect=lambda: log.warning("lost %s; reconnecting", observed.target.name),
            on_reconnect=lambda count: log.info("reconnected to %s (%d)", observed.target.name, count),
        )
        observed.client = await AsyncClient.connect(
            observed.target.url, token=self._token, options=options, reconnect=True
        )
        log.info("observing %s (%s)", observed.target.name, observed.target.url)

    async def _follow(self, observed: ObservedServer) -> None:
        """Connect again if the client ever gives up on the server (it reconnects by itself first)."""
        while not self._closing:
            assert observed.client is not None
            try:
                async for _ in observed.client.events():
                    pass
            except ConnectionLost as exc:
                log.warning("lost %s: %s; connecting again", observed.target.name, exc)
            if self._closing:
                return
            await observed.client.aclose()
            for attempt in range(1, RECONNECT.max_attempts + 1):
                try:
                    await self._connect(observed)
                    break
                except (ClientError, OSError) as exc:
                    log.warning("cannot reach %s: %s", observed.target.name, exc)
                    await asyncio.sleep(RECONNECT.delay(attempt))

    # ------------------------------------------------------------------ deciding

    def _handler(self, observed: ObservedServer, method: str) -> Any:
        async def handle(params: Any) -> Any:
            return await self.handle(observed, method, params)

        return handle

    async def handle(self, observed: ObservedServer, method: str, params: Any) -> Any:
        """Answer one request, or leave it unanswered (ask, dry run) until another client does."""
        started = time.monotonic()
        arrived = now()
        kind = approval_kind(method, params)
        thread_id = params.get("threadId") if isinstance(params, dict) else None
        if kind is None or not isinstance(thread_id, str):
            # Not an approval the gateway decides (an MCP form for a person): people answer it.
            return await self._leave(None, started, f"{method} (not an approval the gateway decides)")
        request = ApprovalRequest(
            method,
            kind,
            observed.target.name,
            params,
            thread=await self._thread_info(observed, thread_id),
            changes=await self._changes(observed, kind, params),
        )
        try:
            decision = self.policy.decide(request)
        except Exception:
            # A matcher that fails is a bug, never a reason to accept: the request goes to people.
            log.exception("deciding %s failed; left to people", request.summary())
            decision = Decision("ask", "(error while deciding)")
        label = f"{request.server} {kind}: {request.summary()}"
        row = {
            "at": arrived,
            "server": request.server,
            "thread_id": request.thread_id,
            "turn_id": request.turn_id,
            "item_id": request.item_id,
            "method": method,
            "kind": kind,
            "summary": request.summary(),
            "rule": decision.rule,
            "action": decision.action,
        }
        if self.dry_run:
            log.info(
                "dry run: %s %s: %s → would %s (rule %r)",
                request.server,
                kind,
                request.summary(),
                decision.action,
                decision.rule,
            )
            audit_id = await self.store.audit(**row, note=f"dry run: would {decision.action}", dry_run=1)
            return await self._leave(audit_id, started, label)
        if decision.action in ANSWERS:
            log.info(
                "%s %s: %s → %s (rule %r)", request.server, kind, request.summary(), decision.action, decision.rule
            )
            await self.store.audit(**row, decision=decision.action, answered_by="policy", latency_ms=_ms(started))
            return request.answer(decision.action)
        if decision.action == "ask":
            log.info("%s %s: %s → left to people (rule %r)", request.server, kind, request.summary(), decision.rule)
            audit_id = await self.store.audit(**row, note="left to people")
            return await self._leave(audit_id, started, label)
        return await self._escalate(observed, request, decision, row, started)

    async def _escalate(
        self,
        observed: ObservedServer,
        request: ApprovalRequest,
        decision: Decision,
        row: dict[str, Any],
        started: float,
    ) -> Any:
        connection = observed.client.reconnects if observed.client is not None else -1
        label = f"{request.server} {request.kind}: {request.summary()}"
        # The row first: a gateway stopped at any point after this has a record of the request.
        audit_id = await self.store.audit(**row)
        escalation_id: str | None = None
        failed = False  # then _leave tells of a withdrawal itself
        try:
            async with self.escalations.lock(request.fingerprint()):
                escalation = await self.store.live_escalation(request.fingerprint())
                asked_again = escalation is not None
                if escalation is None:
                    escalation_id = new_escalation_id()
                    await self.store.audit_update(audit_id, escalation_id=escalation_id)
                    try:
                        escalation = await self._open(escalation_id, request, decision)
                    except EscalationFailed as exc:
                        failed = True
                        return await self._escalation_failed(request, exc, audit_id, started, label)
            escalation_id = escalation["id"]
            log.info(
                "%s → escalated (rule %r, escalation %s%s)",
                label,
                decision.rule,
                escalation_id,
                ", asked again" if asked_again else "",
            )
            await self.store.audit_update(
                audit_id,
                escalation_id=escalation_id,
                ticket=escalation["ticket"],
                note="asked again: the escalation already open" if asked_again else None,
            )
            outcome = await self.escalations.wait(escalation)
        except asyncio.CancelledError as cancelled:
            # Withdrawn at any step (even while the ticket was being opened): the ticket closes.
            if _withdrawn(cancelled) and not failed:
                if escalation_id is not None:
                    await self.escalations.finish(escalation_id, "withdrawn", "another client answered first")
                await self.store.audit_update(audit_id, answered_by="another client", latency_ms=_ms(started))
                log.info("%s: answered by another client", label)
            raise
        if outcome.state == "approved":
            final = escalation["approve_as"]
        elif outcome.state == "rejected":
            final = "decline"
        else:
            final = escalation["on_timeout"]
        ticket = (await self.store.escalation(escalation_id) or {}).get("ticket")
        note = outcome.state
        if observed.client is None or observed.client.reconnects != connection:
            # The answer goes to the request asked again after the reconnect, if there is one; a
            # server that restarted lost the request (and its turn) and never asks again.
            note += "; asked on a connection since lost: reaches the server only if it asked again"
        await self.escalations.finish(escalation_id, "answered")
        if final not in ANSWERS:
            await self.store.audit_update(audit_id, ticket=ticket, note=f"{outcome.state}: left to people")
            return await self._leave(audit_id, started, label)
        await self.store.audit_update(
            audit_id, decision=final, answered_by=outcome.by, ticket=ticket, latency_ms=_ms(started), note=note
        )
        log.info("%s → %s (escalation %s %s by %s)", label, final, escalation_id, outcome.state, outcome.by)
        return request.answer(final)

    async def _open(self, escalation_id: str, request: ApprovalRequest, decision: Decision) -> dict[str, Any]:
        rule = decision.rule_obj
        return await self.escalations.open(
            escalation_id,
            request,
            decision.rule,
            rule.approve_as if rule else "accept",
            rule.timeout_s if rule else None,
            rule.on_timeout if rule else None,
        )

    async def _escalation_failed(
        self, request: ApprovalRequest, exc: EscalationFailed, audit_id: int, started: float, label: str
    ) -> Any:
        """The ticket could not be opened: decline, or leave it to people (``on_error``); never accept."""
        settings = self.policy.escalation
        fallback = settings.on_error if settings else "decline"
        log.error(
            "%s: escalation failed (%s); %s", label, exc, "declined" if fallback == "decline" else "left to people"
        )
        if fallback == "decline":
            await self.store.audit_update(
                audit_id,
                decision="decline",
                answered_by="error",
                latency_ms=_ms(started),
                note=f"escalation failed: {exc}",
            )
            return request.answer("decline")
        await self.store.audit_update(audit_id, note=f"escalation failed: {exc}; left to people")
        return await self._leave(audit_id, started, label)

    async def _leave(self, audit_id: int | None, started: float, label: str) -> Any:
        """Answer nothing: wait until another client answers (the server withdraws the request)."""
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError as cancelled:
            if _withdrawn(cancelled):
                if audit_id is not None:
                    await self.store.audit_update(audit_id, answered_by="another client", latency_ms=_ms(started))
                log.info("%s: answered by another client", label)
            raise
        raise AssertionError("unreachable")

    async def _changes(self, observed: ObservedServer, kind: str, params: dict[str, Any]) -> dict[str, str]:
        """A file change's files and diffs: from its ``item/started``, or (asked before this
        connection existed) from the thread's stored turns."""
        item_id = str(params.get("itemId"))
        known = observed.changes.get(item_id)
        if known is not None or kind != "fileChange":
            return known or {}
        assert observed.client is not None
        try:
            result = await observed.client.request(
                "thread/read", {"threadId": params["threadId"], "includeTurns": True}
            )
        except ClientError as exc:
            log.warning("cannot read the changes of %s on %s: %s", item_id, observed.target.name, exc)
            return {}
        for turn in (result.get("thread") or {}).get("turns") or []:
            for item in turn.get("items") or []:
                if isinstance(item, dict) and item.get("id") == item_id:
                    return {str(c.get("path")): str(c.get("diff") or "") for c in item.get("changes") or []}
        return {}

    async def _thread_info(self, observed: ObservedServer, thread_id: str) -> ThreadInfo:
        known = observed.threads.get(thread_id)
        if known is not None:
            return known
        assert observed.client is not None
        try:
            result = await observed.client.request("thread/read", {"threadId": thread_id})
        except ClientError as exc:
            # Unknown: rules about the client, source or model do not match (nothing is assumed).
            log.warning("cannot read thread %s on %s: %s", thread_id, observed.target.name, exc)
            return ThreadInfo()
        info = ThreadInfo.from_thread(result.get("thread") if isinstance(result, dict) else None)
        observed.threads[thread_id] = info
        return info


def _withdrawn(cancelled: asyncio.CancelledError) -> bool:
    return bool(cancelled.args) and cancelled.args[0] == WITHDRAWN


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


async def open_gateway(
    targets: list[ServerTarget],
    policy_path: str | Path,
    database: str | Path,
    **kwargs: Any,
) -> Gateway:
    """Load the policy (raises :class:`PolicyError`), open the database and start the gateway."""
    policy = await asyncio.to_thread(load_policy, policy_path)
    store = await GatewayStore.open(database)
    gateway = Gateway(targets, policy, store, **kwargs)
    try:
        await gateway.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await gateway.close()
        await store.close()
        raise
    return gateway
