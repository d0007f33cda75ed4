"""The differences the differential suite accepts: each one a row of docs/compatibility.md.

Owns: :data:`ALLOWED`, the table of (method pattern, case-label pattern) → compat id. A case where
one side answers a result and the other an error (or nothing) fails the suite unless an entry
here matches it; every id must be a row of docs/compatibility.md (checked by
``test_allowed_ids_are_documented``), so an accepted difference is always a documented one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from support.reference import REPO_ROOT

COMPATIBILITY = REPO_ROOT / "docs" / "compatibility.md"


@dataclass(frozen=True)
class Allowed:
    compat: str
    #: fnmatch patterns over the method name and the case label.
    method: str
    case: str


ALLOWED: tuple[Allowed, ...] = (
    # Ids the reference cannot echo get no reply there, -32600 with id null here.
    Allowed("rpc:id-range", "(request ids)", "id int64 max + 1"),
    Allowed("rpc:id-range", "(request ids)", "id float"),
    Allowed("rpc:id-range", "(request ids)", "id true"),
    Allowed("rpc:id-range", "(request ids)", "id object"),
    Allowed("rpc:id-range", "(request ids)", "id array"),
    Allowed("rpc:parse-error-reply", "(request ids)", "id null"),
    Allowed("rpc:params-optional", "*", "params absent"),
    Allowed("rpc:params-optional", "*", "params null"),
    Allowed("rpc:params-array", "*", "params []"),
    Allowed("thread:list-limit", "thread/list", "limit zero"),
    Allowed("thread:list-limit", "thread/loaded/list", "limit zero"),
    Allowed("thread:list-limit", "model/list", "limit zero"),
    Allowed("history:page-limit", "thread/[ti][ut]*s/list", "limit zero"),
    Allowed("history:cursor-errors", "thread/items/list", "turnId *"),
    Allowed("turn:empty-input", "turn/start", "input []"),
    # The reference can take longer than the harness waits to search for a 64 KiB term.
    Allowed("search:large-term", "thread/search", "searchTerm large"),
    Allowed("thread:fork-ephemeral-turns", "thread/fork", "ephemeral true"),
    # Values the reference accepts only in situations that cannot arise here (a loaded thread
    # whose overrides it ignores; a turn id to fork before; context for the model).
    Allowed("protocol:unmodeled-fields", "thread/resume", "permissions *"),
    Allowed("protocol:unmodeled-fields", "thread/resume", "history *"),
    Allowed("protocol:unmodeled-fields", "thread/fork", "beforeTurnId *"),
    Allowed("protocol:unmodeled-fields", "turn/st*", "additionalContext *"),
    Allowed("account:errors", "account/login/cancel", "loginId *"),
    Allowed("account:rate-limits-local", "account/rateLimits/read", "*"),
    Allowed("account:usage-local", "account/usage/read", "*"),
    Allowed("account:api-key-checked", "account/login/start", "*apiKey *"),
)


def allowed_for(method: str, label: str) -> Allowed | None:
    for entry in ALLOWED:
        if fnmatchcase(method, entry.method) and fnmatchcase(label, entry.case):
            return entry
    return None


def compat_ids_for(method: str) -> list[str]:
    """The compat ids a method's differential test may rely on (for its ``compat`` marks)."""
    return sorted({entry.compat for entry in ALLOWED if fnmatchcase(method, entry.method)})


def documented_ids() -> set[str]:
    """Every id in the first column of docs/compatibility.md's table."""
    return set(re.findall(r"^\| `([^`]+)` \|", COMPATIBILITY.read_text(), flags=re.MULTILINE))
