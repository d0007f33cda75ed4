"""Thread attachments: records a client keeps on a thread under a (type, identity key) pair.

Owns: the rules (identities must not be blank, the thread must exist, adding is idempotent) on
top of the store. Layer: core (imports ``rpc`` errors, ``store`` and ``core``).
"""

from __future__ import annotations

import time
from typing import Any

from ..rpc.errors import InvalidParams
from ..store import Attachment, AttachmentOwner, InvalidCursor
from .errors import InvalidCursorError, checked_thread_id
from .ids import uuid7
from .threads import ThreadManager

#: A page when the client gives no limit.
DEFAULT_PAGE = 100


def _require(field: str, value: str) -> None:
    if not value.strip():
        raise InvalidParams(f"{field} must not be empty")


class ThreadAttachments:
    def __init__(self, threads: ThreadManager) -> None:
        self._threads = threads

    async def add(
        self, thread_id: str, attachment_type: str, identity_key: str, payload: Any
    ) -> tuple[str, Attachment, bool]:
        """(canonical thread id, the attachment, whether it was created now)."""
        _require("attachmentType", attachment_type)
        _require("identityKey", identity_key)
        record, _loaded = await self._threads.read(thread_id)
        candidate = Attachment(uuid7(), attachment_type, identity_key, payload, int(time.time()))
        attachment, created = await self._threads.store.add_attachment(record.id, candidate)
        return record.id, attachment, created

    async def remove(self, thread_id: str, attachment_type: str, identity_key: str) -> tuple[str, str | None]:
        """(canonical thread id, the removed attachment's id or None when there was none)."""
        _require("attachmentType", attachment_type)
        _require("identityKey", identity_key)
        record, _loaded = await self._threads.read(thread_id)
        return record.id, await self._threads.store.remove_attachment(record.id, attachment_type, identity_key)

    async def page(self, thread_id: str, cursor: str | None, limit: int | None) -> tuple[list[Attachment], bool]:
        # As the reference: listing a thread that does not exist is an empty page, not an error.
        try:
            return await self._threads.store.list_attachments(checked_thread_id(thread_id), cursor, _page_size(limit))
        except InvalidCursor:
            raise InvalidCursorError(cursor or "") from None

    async def owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int | None
    ) -> tuple[list[AttachmentOwner], bool]:
        _require("attachmentType", attachment_type)
        _require("identityKey", identity_key)
        return await self._threads.store.attachment_owners(
            attachment_type, identity_key, archived, cursor, _page_size(limit)
        )


def _page_size(limit: int | None) -> int:
    # As the reference: a limit of 0 is served as 1.
    return DEFAULT_PAGE if limit is None else max(limit, 1)
