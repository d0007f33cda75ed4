"""Thread methods: start, read, list, name, metadata, injected history, archive, unarchive, delete,
unsubscribe.
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

from typing import Any

from ...core.errors import InvalidCursorError, checked_thread_id
from ...core.ids import parse_thread_id
from ...core.thread_basics import ClientIdentity, sandbox_policy_for_mode, session_result
from ...core.threads import LoadedThread
from ...protocol import (
    ThreadArchiveParams,
    ThreadArchiveResponse,
    ThreadDeleteParams,
    ThreadDeleteResponse,
    ThreadInjectItemsParams,
    ThreadInjectItemsResponse,
    ThreadListParams,
    ThreadListResponse,
    ThreadLoadedListParams,
    ThreadLoadedListResponse,
    ThreadMetadataUpdateParams,
    ThreadMetadataUpdateResponse,
    ThreadReadParams,
    ThreadReadResponse,
    ThreadSetNameParams,
    ThreadSetNameResponse,
    ThreadStartParams,
    ThreadStartResponse,
    ThreadUnarchiveParams,
    ThreadUnarchiveResponse,
    ThreadUnsubscribeParams,
    ThreadUnsubscribeResponse,
)
from ...rpc import InvalidParams, Reply
from ..connection import Connection
from ..early_thread import EarlyThread
from . import handler


def _client(conn: Connection) -> ClientIdentity:
    assert conn.client is not None, "handlers run only after initialize"
    return conn.client


def checked_model(model: str) -> str:
    """A thread's model as a client named it; blank is refused (as the reference: no model)."""
    if not model.strip():
        raise InvalidParams("`model` must not be empty; omit it to use the configured model")
    return model


@handler("thread/start")
async def thread_start(conn: Connection, params: ThreadStartParams) -> Reply:
    app = conn.app
    threads = app.threads
    settings = threads.default_settings(params.cwd)
    if params.model_provider is not None:
        if params.model_provider not in app.config.providers:
            known = ", ".join(sorted(app.config.providers))
            raise InvalidParams(
                f"unknown modelProvider `{params.model_provider}`; configure [model_providers.{params.model_provider}] "
                f"in config.toml or use one of: {known}"
            )
        settings.model_provider = params.model_provider
    if params.model is not None:
        settings.model = checked_model(params.model)
    if params.approval_policy is not None:
        settings.approval_policy = _wire(params.approval_policy)
    if params.approvals_reviewer is not None:
        settings.approvals_reviewer = params.approvals_reviewer
    if params.sandbox is not None:
        settings.sandbox_policy = sandbox_policy_for_mode(params.sandbox, app.config, settings.cwd)
    settings.personality = params.personality or settings.personality
    settings.base_instructions = params.base_instructions
    settings.developer_instructions = params.developer_instructions
    settings.service_tier = params.service_tier
    if params.dynamic_tools:
        settings.dynamic_tools = [_wire(spec) for spec in params.dynamic_tools]
    thread = threads.start_thread(_client(conn), settings, ephemeral=bool(params.ephemeral))
    app.subscribe(conn, thread.id)
    wire_thread = threads.to_wire(thread.record, thread)
    response = ThreadStartResponse.model_validate(session_result(wire_thread, thread.settings))
    return Reply(response, lambda: announce_thread_started(conn, thread, wire_thread.to_wire()))


def adopt_early_thread(conn: Connection, early: EarlyThread) -> None:
    """Take over the thread the stdio fast start answered ``thread/start`` with, as this handler
    would have left it: loaded, the connection subscribed, then ``thread/started`` and its tools."""
    threads = conn.app.threads
    thread = threads.start_thread(_client(conn), early.settings, ephemeral=early.ephemeral, record=early.record)
    conn.app.subscribe(conn, thread.id)
    announce_thread_started(conn, thread, threads.to_wire(thread.record, thread).to_wire())


def announce_thread_started(conn: Connection, thread: LoadedThread, wire_thread: dict[str, Any]) -> None:
    """After the ``thread/start`` answer: the thread's subscribers learn it started, and its tools
    start (the answer may have come from the stdio fast start, ``adopt_early_thread``)."""
    conn.app.emit(thread.id, "thread/started", {"thread": wire_thread})
    conn.app.thread_started(thread)


@handler("thread/read")
async def thread_read(conn: Connection, params: ThreadReadParams) -> Reply:
    threads = conn.app.threads
    record, loaded = await threads.read(params.thread_id)
    turns: list[Any] = []
    if params.include_turns:
        from ...core.history import load_turns

        turns = await load_turns(conn.app.store, record.id)
        fleet = conn.app.fleet
        if fleet is not None and (loaded is None or loaded.active is None):
            # Another server of the fleet may be running its last turn.
            await fleet.show_running_elsewhere(record.id, turns, loaded)
    response = ThreadReadResponse(thread=threads.to_wire(record, loaded, turns))
    if not params.include_turns:
        return Reply(response)
    return Reply(
        response,
        lambda: conn.notify(
            "deprecationNotice",
            {
                "summary": "thread/read with includeTurns loads the whole history at once",
                "details": "Read the thread without includeTurns and page with thread/turns/list instead.",
            },
        ),
    )


@handler("thread/list")
async def thread_list(conn: Connection, params: ThreadListParams) -> ThreadListResponse:
    if params.originators:
        raise InvalidParams("originators filtering is supported by hosted backends only; omit it or send []")
    cwd = params.cwd
    cwds = [cwd] if isinstance(cwd, str) else list(cwd) if cwd else None
    data, next_cursor, backwards_cursor = await conn.app.threads.list_threads(
        cursor=params.cursor,
        limit=params.limit,
        sort_key=params.sort_key,
        sort_direction=params.sort_direction,
        archived=params.archived,
        model_providers=params.model_providers,
        source_kinds=list(params.source_kinds) if params.source_kinds else None,
        cwds=cwds,
        search_term=params.search_term,
        excluded_ids=params.excluded_thread_ids,
        section_id=params.section_id,
    )
    return ThreadListResponse(data=data, next_cursor=next_cursor, backwards_cursor=backwards_cursor)


@handler("thread/loaded/list")
async def thread_loaded_list(conn: Connection, params: ThreadLoadedListParams) -> ThreadLoadedListResponse:
    ids = conn.app.threads.loaded_ids()
    if params.cursor is not None:
        # The cursor is the last id of the previous page, as the reference's.
        try:
            cursor = parse_thread_id(params.cursor)
        except ValueError:
            raise InvalidCursorError(params.cursor) from None
        ids = [thread_id for thread_id in ids if thread_id > cursor]
    if params.limit is not None and params.limit < len(ids):
        if params.limit < 1:
            raise InvalidParams("limit must be at least 1 (omit it to list every loaded thread)")
        ids = ids[: params.limit]
        return ThreadLoadedListResponse(data=ids, next_cursor=ids[-1])
    return ThreadLoadedListResponse(data=ids, next_cursor=None)


@handler("thread/name/set")
async def thread_name_set(conn: Connection, params: ThreadSetNameParams) -> Reply:
    app = conn.app
    thread_id, name = await app.threads.set_name(params.thread_id, params.name)
    recipients = _with_caller(app.subscribers(thread_id), conn)
    return Reply(
        ThreadSetNameResponse(),
        lambda: app.deliver(recipients, "thread/name/updated", {"threadId": thread_id, "threadName": name}),
    )


@handler("thread/metadata/update")
async def thread_metadata_update(conn: Connection, params: ThreadMetadataUpdateParams) -> ThreadMetadataUpdateResponse:
    git_info = params.git_info
    changes: dict[str, str | None] = {}
    if git_info is not None:
        # Only the fields the client sent change: absent keeps, null clears.
        for field in sorted(git_info.model_fields_set):
            value = getattr(git_info, field)
            wire = type(git_info).model_fields[field].alias or field
            if value is not None and not value.strip():
                raise InvalidParams(f"gitInfo.{wire} must not be empty (send null to clear it)")
            changes[wire] = value
    if not changes:
        raise InvalidParams("thread metadata update must include at least one field (gitInfo.sha, branch or originUrl)")
    threads = conn.app.threads
    record = await threads.update_git_info(params.thread_id, changes)
    return ThreadMetadataUpdateResponse(thread=threads.to_wire(record, threads.loaded(record.id)))


@handler("thread/inject_items")
async def thread_inject_items(conn: Connection, params: ThreadInjectItemsParams) -> ThreadInjectItemsResponse:
    from ...core.inject import inject_items

    await inject_items(conn.app.threads, conn.app.turns, params.thread_id, params.items)
    return ThreadInjectItemsResponse()


@handler("thread/archive")
async def thread_archive(conn: Connection, params: ThreadArchiveParams) -> Reply:
    app = conn.app
    thread_id = await app.threads.archive(params.thread_id)
    recipients = _with_caller(app.drop_subscriptions(thread_id), conn)
    return Reply(ThreadArchiveResponse(), lambda: app.deliver(recipients, "thread/archived", {"threadId": thread_id}))


@handler("thread/unarchive")
async def thread_unarchive(conn: Connection, params: ThreadUnarchiveParams) -> Reply:
    app = conn.app
    record = await app.threads.unarchive(params.thread_id)
    response = ThreadUnarchiveResponse(thread=app.threads.to_wire(record, app.threads.loaded(record.id)))
    recipients = _with_caller(app.subscribers(record.id), conn)
    return Reply(response, lambda: app.deliver(recipients, "thread/unarchived", {"threadId": record.id}))


@handler("thread/delete")
async def thread_delete(conn: Connection, params: ThreadDeleteParams) -> Reply:
    app = conn.app
    thread_id = checked_thread_id(params.thread_id)
    thread = app.threads.loaded(thread_id)
    if thread is not None and thread.active is not None:
        # Its turn ends `interrupted` (subscribers see it) and withdraws its pending approvals, so
        # nothing writes to the thread once it is gone.
        await app.turns.interrupt(thread.active)
    await app.threads.delete(thread_id)
    await app.replay.delete_thread(thread_id)
    recipients = _with_caller(app.drop_subscriptions(thread_id), conn)
    return Reply(ThreadDeleteResponse(), lambda: app.deliver(recipients, "thread/deleted", {"threadId": thread_id}))


@handler("thread/unsubscribe")
async def thread_unsubscribe(conn: Connection, params: ThreadUnsubscribeParams) -> ThreadUnsubscribeResponse:
    app = conn.app
    # As the reference: a malformed id is an error, an unknown one is "notLoaded".
    thread_id = checked_thread_id(params.thread_id)
    if app.threads.loaded(thread_id) is None:
        return ThreadUnsubscribeResponse(status="notLoaded")
    if not app.unsubscribe(conn, thread_id):
        return ThreadUnsubscribeResponse(status="notSubscribed")
    return ThreadUnsubscribeResponse(status="unsubscribed")


def _with_caller(recipients: list[Connection], conn: Connection) -> list[Connection]:
    return recipients if conn in recipients else [*recipients, conn]


def _wire(value: Any) -> Any:
    to_wire = getattr(value, "to_wire", None)
    return to_wire() if callable(to_wire) else value
