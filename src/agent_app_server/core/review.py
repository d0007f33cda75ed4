"""Review mode: ``review/start`` runs a code review as a turn of the thread (inline delivery).

Owns: the review targets (uncommitted changes, a base branch, a commit, custom instructions) —
each one's label (the ``enteredReviewMode`` item's ``review``, as the reference's) and the prompt
the reviewer gets (the reference's content: for a base branch, the merge base and the ``git
diff`` to run; our wording) — and the review turn itself. As the reference's reviewer it starts
from a fresh history with review guidelines as its instructions, a read-only sandbox without
approvals, and only the tools that look (``exec_command``, ``write_stdin``, ``view_image``); the
thread's own history is put back afterwards with the review's findings added, so the next turn
can act on them. ``enteredReviewMode`` / ``exitedReviewMode`` items frame the review.
Layer: core.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..rpc.errors import InvalidParams, InvalidRequest
from .ids import uuid7
from .instructions import user_message
from .turns import TurnRunner

if TYPE_CHECKING:
    from .thread_basics import ThreadSettings
    from .threads import LoadedThread
    from .turns import TurnEngine

#: The tools a reviewer is offered: it reads and runs checks, it does not edit.
REVIEW_TOOLS = frozenset({"exec_command", "write_stdin", "view_image"})

REVIEW_INSTRUCTIONS = """\
# Reviewing a code change

You are reviewing a change another engineer made. Find the problems its author would want to know
about and fix, and report them; do not change any file.

Flag an issue only when all of these hold:
- it affects correctness, security, performance or maintainability in a way that matters;
- it was introduced by this change (not already present before it);
- it is one discrete, actionable problem, and you can point at the code that shows it — not a
  guess about code you have not read, nor a style preference;
- it is not plainly what the author intended.

For each finding give: a short title, the file and line range, why it is a problem and in which
circumstances it shows, in one brief paragraph without long code excerpts. Put the most serious
findings first and do not overstate severity. Inspect the repository with read-only commands
(`git diff`, `git show`, reading files, running the tests) to back each finding.

End with an overall verdict: whether the change is correct as it stands, and how confident you are.
If you found nothing worth flagging, say so plainly.
"""


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    #: The label clients show (the ``enteredReviewMode`` item's ``review``).
    hint: str
    #: What the reviewer is asked (its user message).
    prompt: str


async def review_request(target: dict[str, Any], cwd: str) -> ReviewRequest:
    """The label and prompt of a ``ReviewTarget`` (wire dict); refuses empty fields as the reference."""
    kind = target["type"]
    if kind == "uncommittedChanges":
        return ReviewRequest(
            "current changes",
            "Review the code changes in the working tree — staged, unstaged and untracked files — and report "
            "prioritized findings.",
        )
    if kind == "baseBranch":
        branch = target["branch"].strip()
        if not branch:
            raise InvalidParams("branch must not be empty")
        merge_base = await _merge_base(cwd, branch)
        if merge_base is None:
            prompt = (
                f"Review the code changes of the current branch against the base branch '{branch}': find their "
                f"merge base (`git merge-base HEAD {branch}`), inspect `git diff` from it, and report prioritized, "
                "actionable findings."
            )
        else:
            prompt = (
                f"Review the code changes against the base branch '{branch}'. Their merge base is commit "
                f"{merge_base}: run `git diff {merge_base}` to see the changes relative to {branch}, and report "
                "prioritized, actionable findings."
            )
        return ReviewRequest(f"changes against '{branch}'", prompt)
    if kind == "commit":
        sha = target["sha"].strip()
        if not sha:
            raise InvalidParams("sha must not be empty")
        title = (target.get("title") or "").strip()
        subject = f' ("{title}")' if title else ""
        return ReviewRequest(
            f"commit {sha}: {title}" if title else f"commit {sha}",
            f"Review the code changes introduced by commit {sha}{subject} and report prioritized, actionable findings.",
        )
    instructions = target["instructions"].strip()
    if not instructions:
        raise InvalidParams("instructions must not be empty")
    return ReviewRequest(instructions, instructions)


async def _merge_base(cwd: str, branch: str) -> str | None:
    def run() -> str | None:
        try:
            done = subprocess.run(
                ["git", "merge-base", "HEAD", branch], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        sha = done.stdout.strip()
        return sha if done.returncode == 0 and sha else None

    return await asyncio.to_thread(run)


def start_review(engine: TurnEngine, thread: LoadedThread, request: ReviewRequest) -> ReviewTurn:
    """The review as the thread's running turn; :meth:`TurnEngine.launch` it after the reply."""
    if thread.active is not None:
        raise InvalidRequest("thread already has an active turn; start the review once it ends (or interrupt it)")
    turn_id = uuid7()
    runner = ReviewTurn(
        engine=engine,
        thread=thread,
        turn_id=turn_id,
        input=[{"type": "text", "text": request.prompt, "text_elements": []}],
        root_turn_id=turn_id,
        tool_names=REVIEW_TOOLS,
        request=request,
    )
    engine.activate(runner)
    return runner


def reply_turn(runner: ReviewTurn) -> dict[str, Any]:
    """The ``review/start`` reply's turn: as the reference's, the review's label as its one item."""
    return {
        "id": runner.turn_id,
        "rootTurnId": None,
        "items": [
            {
                "type": "userMessage",
                "id": runner.turn_id,
                "clientId": None,
                "content": [{"type": "text", "text": runner.request.hint, "text_elements": []}],
            }
        ],
        "itemsView": "notLoaded",
        "status": "inProgress",
        "error": None,
        "startedAt": None,
        "completedAt": None,
        "durationMs": None,
    }


@dataclass
class ReviewTurn(TurnRunner):
    """A turn that reviews: its own instructions, permissions, tools and history for its length."""

    request: ReviewRequest = field(default_factory=lambda: ReviewRequest("", ""))
    #: The thread's history and settings, put back when the review ends.
    _parent_context: list[dict[str, Any]] | None = None
    _parent_settings: ThreadSettings | None = None

    async def begin(self) -> None:
        await super().begin()
        thread = self.thread
        # Written with the thread's own settings before the reviewer's replace them for a while.
        await self.engine.threads.materialize(thread)
        self._parent_context = list(self.state.context or [])
        self._parent_settings = thread.settings
        thread.settings = dataclasses.replace(
            thread.settings,
            base_instructions=REVIEW_INSTRUCTIONS,
            developer_instructions=None,
            personality=None,
            approval_policy="never",
            sandbox_policy={"type": "readOnly", "networkAccess": False},
            dynamic_tools=None,
        )
        # The reviewer starts from a fresh history (as the reference's review sub-agent).
        self.state.context = []
        item = {"type": "enteredReviewMode", "id": uuid7(), "review": self.request.hint}
        self.item_started(item)
        self.item_completed(item)

    async def finish(self, status: str, history: list[Any] | None = None, error: dict[str, Any] | None = None) -> None:
        if self._parent_settings is not None:
            self.thread.settings = self._parent_settings
            self._parent_settings = None
            findings = (self.final_message or {}).get("text") or ""
            if status == "completed":
                item = {"type": "exitedReviewMode", "id": uuid7(), "review": findings}
                self.item_started(item)
                self.item_completed(item)
            restored = list(self._parent_context or [])
            if findings:
                restored.append(
                    user_message(
                        f"A code review of {self.request.hint} ran in this thread. Its findings:\n\n{findings}"
                    )
                )
            self.engine.reset_context(self, restored)
        await super().finish(status, history, error)
