"""Escalation to a change-management service: the ticket, and the decision coming back.

Owns: the webhook POST (JSON: server, thread, turn, item, command or diff, cwd, reason, the
decision URL), the gateway's own small HTTP endpoint that receives decisions (HMAC-SHA256 over
``timestamp.body``, anything else refused), polling a status URL, the timeout, and the live
escalations themselves (in :class:`~agent_app_server.gateway.store.GatewayStore`, so that a
restarted gateway resumes them: timers re-armed from the stored deadline, polling restarted,
callbacks accepted for tickets opened before the restart).
Layer: gateway (aiohttp for both HTTP sides).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .store import DECIDED_STATES, GatewayStore, now

if TYPE_CHECKING:
    from .policy import Escalation
    from .requests import ApprovalRequest

log = logging.getLogger("agent_app_server.gateway")

SIGNATURE_HEADER = "X-Gateway-Signature"
TIMESTAMP_HEADER = "X-Gateway-Timestamp"
#: A signed callback older or newer than this is refused (a replayed capture).
MAX_CLOCK_SKEW_S = 300
WEBHOOK_TIMEOUT_S = 10.0
DECISIONS = {"approved", "rejected"}


class EscalationFailed(Exception):
    """The ticket could not be opened (webhook unreachable, refused, or misconfigured)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an escalation ended: ``approved``, ``rejected`` or ``timeout``, and by whom."""

    state: str
    by: str


def new_escalation_id() -> str:
    """An escalation's id: unguessable, since it is the path of its decision URL."""
    return secrets.token_urlsafe(12)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: bytes, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def check_signature(secret: bytes, timestamp: str | None, signature: str | None, body: bytes) -> str | None:
    """None when the callback is authentic, else why it is refused."""
    if not timestamp or not signature:
        return (
            f"unsigned: send {TIMESTAMP_HEADER} (Unix seconds) and {SIGNATURE_HEADER} (sha256=HMAC of timestamp.body)"
        )
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return f"{TIMESTAMP_HEADER} must be Unix seconds"
    if skew > MAX_CLOCK_SKEW_S:
        return f"{TIMESTAMP_HEADER} is {skew:.0f} s away from the gateway's clock (at most {MAX_CLOCK_SKEW_S} s)"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return "the signature does not match (HMAC-SHA256 of timestamp.body with the shared secret)"
    return None


class Escalations:
    """Live escalations: opening them, deciding them once, and waking whoever waits."""

    def __init__(self, store: GatewayStore, settings: Callable[[], Escalation | None]) -> None:
        self.store = store
        self._settings = settings
        self._waiters: dict[str, asyncio.Future[Outcome]] = {}
        self._watchers: dict[str, list[asyncio.Task[None] | asyncio.TimerHandle]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        #: The callback endpoint's base URL, once listening.
        self.listening_url: str | None = None

    # ------------------------------------------------------------------ life

    async def start(self, listen: tuple[str, int] | None) -> None:
        """Listen for callbacks (when ``listen``), and resume every live escalation."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S))
        if listen is not None:
            app = web.Application(client_max_size=64 * 1024)
            app.router.add_post("/decisions/{id}", self._callback)
            app.router.add_get("/healthz", self._health)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, listen[0], listen[1])
            await site.start()
            self._runner = runner
            host, port = runner.addresses[0][:2]
            self.listening_url = f"http://{host}:{port}"
        for escalation in await self.store.live_escalations():
            if escalation["state"] == "open":
                self._watch(escalation)
        return None

    async def close(self) -> None:
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.cancel()
        tasks = [w for ws in self._watchers.values() for w in ws if isinstance(w, asyncio.Task)]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watchers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def lock(self, fingerprint: str) -> asyncio.Lock:
        """One request's escalation is looked up and opened by one handler at a time."""
        return self._locks.setdefault(fingerprint, asyncio.Lock())

    # ------------------------------------------------------------------ opening

    async def open(
        self,
        escalation_id: str,
        request: ApprovalRequest,
        rule: str,
        approve_as: str,
        timeout_s: float | None,
        on_timeout: str | None,
    ) -> dict[str, Any]:
        """Open a ticket for ``request``: stored first (so a crash right after the POST still
        finds it), then the webhook. Raises :class:`EscalationFailed`."""
        settings = self._settings()
        if settings is None:
            raise EscalationFailed("the policy has no [escalation] table")
        created = now()
        deadline = created + (timeout_s or settings.timeout_s)
        row: dict[str, Any] = {
            "id": escalation_id,
            "fingerprint": request.fingerprint(),
            "server": request.server,
            "thread_id": request.thread_id,
            "turn_id": request.turn_id,
            "item_id": request.item_id,
            "method": request.method,
            "params": request.params,
            "summary": request.summary(),
            "rule": rule,
            "approve_as": approve_as,
            "on_timeout": on_timeout or settings.on_timeout,
            "state": "open",
            "created_at": created,
            "deadline": deadline,
        }
        await self.store.create_escalation(**row)
        try:
            reply = await self._post(settings, request, escalation_id, deadline)
        except EscalationFailed as exc:
            await self.store.update_escalation(
                escalation_id, state="failed", decided_by=f"error: {exc}", decided_at=now(), only_from=("open",)
            )
            raise
        ticket = reply.get("ticket") if isinstance(reply.get("ticket"), str) else None
        status_url = reply.get("statusUrl") if isinstance(reply.get("statusUrl"), str) else None
        if status_url is None and settings.status_url:
            status_url = settings.status_url.format(ticket=ticket or escalation_id, id=escalation_id)
        await self.store.update_escalation(escalation_id, ticket=ticket, status_url=status_url)
        escalation = await self.store.escalation(escalation_id)
        assert escalation is not None
        immediate = reply.get("status")
        if immediate in DECIDED_STATES:  # a service that decides on the spot
            await self.decide(escalation_id, str(immediate), _who(reply))
        else:
            self._watch(escalation)
        return (await self.store.escalation(escalation_id)) or escalation

    async def _post(
        self, settings: Escalation, request: ApprovalRequest, escalation_id: str, deadline: float
    ) -> dict[str, Any]:
        base = settings.callback_url or self.listening_url
        payload = {
            "id": escalation_id,
            "server": request.server,
            "thread": request.thread_id,
            "turn": request.turn_id,
            "item": request.item_id,
            "kind": request.kind,
            "command": request.command,
            "diff": request.diff,
            "paths": list(request.paths),
            "tool": request.tool,
            "cwd": request.cwd,
            "reason": request.reason,
            "network": request.network,
            "decisionUrl": f"{base.rstrip('/')}/decisions/{escalation_id}" if base else None,
            "expiresAt": deadline,
        }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        secret = _secret(settings)
        if secret is not None:
            headers.update(signed_headers(secret, body))
        assert self._session is not None
        try:
            async with self._session.post(settings.webhook, data=body, headers=headers) as response:
                text = await response.text()
                if response.status >= 300:
                    raise EscalationFailed(
                        f"the webhook {settings.webhook} answered HTTP {response.status}: {text[:200]}"
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise EscalationFailed(
                f"cannot reach the webhook {settings.webhook}: {exc or type(exc).__name__}"
            ) from None
        try:
            reply = json.loads(text) if text.strip() else {}
        except ValueError:
            reply = {}
        return reply if isinstance(reply, dict) else {}

    # ------------------------------------------------------------------ deciding

    async def wait(self, escalation: dict[str, Any]) -> Outcome:
        """The escalation's outcome: at once if it was decided already (while nobody asked), else
        when the callback, the poll or the timeout decides it."""
        if escalation["state"] in DECIDED_STATES:
            return Outcome(escalation["state"], escalation["decided_by"] or "")
        future = self._waiters.get(escalation["id"])
        if future is None or future.done():
            future = self._waiters[escalation["id"]] = asyncio.get_running_loop().create_future()
        # Decided between the read and now (the decision wakes only futures that exist).
        current = await self.store.escalation(escalation["id"])
        if current is not None and current["state"] in DECIDED_STATES and not future.done():
            future.set_result(Outcome(current["state"], current["decided_by"] or ""))
        return await asyncio.shield(future)

    async def decide(self, escalation_id: str, state: str, by: str) -> bool:
        """Decide an open escalation (the first decision wins); False if it was not open."""
        changed = await self.store.update_escalation(
            escalation_id, state=state, decided_by=by, decided_at=now(), only_from=("open",)
        )
        if changed:
            self._stop_watching(escalation_id)
            log.info("escalation %s: %s by %s", escalation_id, state, by)
            future = self._waiters.get(escalation_id)
            if future is not None and not future.done():
                future.set_result(Outcome(state, by))
        return changed

    async def finish(self, escalation_id: str, state: str, note: str | None = None) -> None:
        """End a live escalation: ``answered`` or ``withdrawn``."""
        fields: dict[str, Any] = {"state": state}
        if note is not None:
            fields["decided_by"] = note
            fields["decided_at"] = now()
        await self.store.update_escalation(escalation_id, only_from=("open", *DECIDED_STATES), **fields)
        self._stop_watching(escalation_id)
        self._waiters.pop(escalation_id, None)

    def _watch(self, escalation: dict[str, Any]) -> None:
        escalation_id = escalation["id"]
        if escalation_id in self._watchers:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, escalation["deadline"] - now())

        async def timed_out() -> None:
            await self.decide(escalation_id, "timeout", "timeout")

        def expire() -> None:
            task = loop.create_task(timed_out())
            self._watchers.setdefault(escalation_id, []).append(task)

        watchers: list[asyncio.Task[None] | asyncio.TimerHandle] = [loop.call_later(delay, expire)]
        if escalation.get("status_url"):
            watchers.append(loop.create_task(self._poll(escalation_id, escalation["status_url"])))
        self._watchers[escalation_id] = watchers

    def _stop_watching(self, escalation_id: str) -> None:
        current = asyncio.current_task()
        for watcher in self._watchers.pop(escalation_id, []):
            if watcher is not current:
                watcher.cancel()

    async def _poll(self, escalation_id: str, url: str) -> None:
        """Ask the status URL until it says approved or rejected (errors are logged and retried:
        the timeout decides if it never answers)."""
        while True:
            settings = self._settings()
            interval = settings.poll_interval_s if settings else 5.0
            assert self._session is not None
            try:
                async with self._session.get(url) as response:
                    body = await response.json(content_type=None) if response.status == 200 else None
                    if response.status != 200:
                        log.warning(
                            "escalation %s: status URL %s answered HTTP %d", escalation_id, url, response.status
                        )
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                log.warning("escalation %s: cannot poll %s: %s", escalation_id, url, exc or type(exc).__name__)
                body = None
            status = body.get("status") if isinstance(body, dict) else None
            if status in DECISIONS:
                await self.decide(escalation_id, str(status), _who(body))
                return
            await asyncio.sleep(interval)

    # ------------------------------------------------------------------ the callback endpoint

    async def _health(self, request: web.Request) -> web.Response:
        response: web.Response = web.json_response({"status": "ok"})
        return response

    async def _callback(self, request: web.Request) -> web.Response:
        escalation_id = request.match_info["id"]
        body = await request.read()
        settings = self._settings()
        secret = _secret(settings) if settings is not None else None
        if secret is None:
            variable = settings.secret_env if settings else "the [escalation] secret_env"
            return _refuse(503, f"the gateway has no callback secret: set ${variable}")
        problem = check_signature(
            secret, request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body
        )
        if problem is not None:
            log.warning("refused a decision callback for escalation %s: %s", escalation_id, problem)
            return _refuse(401, problem)
        try:
            decision = json.loads(body)
        except ValueError:
            return _refuse(400, 'the body must be JSON: {"decision": "approved" | "rejected", "by": "..."}')
        state = decision.get("decision") if isinstance(decision, dict) else None
        if state not in DECISIONS:
            return _refuse(400, f'"decision" must be "approved" or "rejected", not {state!r}')
        escalation = await self.store.escalation(escalation_id)
        if escalation is None:
            return _refuse(404, f"no escalation {escalation_id!r} at this gateway")
        if not await self.decide(escalation_id, str(state), _who(decision)):
            current = await self.store.escalation(escalation_id)
            return _refuse(409, f"escalation {escalation_id} is already {current['state'] if current else 'gone'}")
        accepted: web.Response = web.json_response({"id": escalation_id, "state": state})
        return accepted


def _refuse(status: int, message: str) -> web.Response:
    response: web.Response = web.json_response({"error": message}, status=status)
    return response


def _who(body: Any) -> str:
    who = body.get("by") if isinstance(body, dict) else None
    return f"change-management:{who}" if isinstance(who, str) and who else "change-management"


def _secret(settings: Escalation) -> bytes | None:
    value = os.environ.get(settings.secret_env)
    return value.encode() if value else None
