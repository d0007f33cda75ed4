"""Crash safety: a writer process killed with SIGKILL mid-append leaves only whole transactions."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent_app_server.store import ThreadStore

THREADS = 4
BATCH = 3000
ACKED = 5  # the parent waits for this many acknowledged batches before it starts aiming the kill

# Each append is one ~3 MB transaction (more than SQLite's 2 MB page cache, so uncommitted pages
# spill into the WAL before COMMIT) that also moves the thread's preview and updated_at: a torn
# commit would show as a partial batch, or a preview that disagrees with the log.
#
# The writer wraps the store's event insertion (running inside the transaction, on the store thread)
# only to announce on stdout when a transaction is under way, so the parent can time its SIGKILL.
# In "stall" mode the batch after the acknowledged ones parks after inserting, before COMMIT, so the
# kill is certain to hit an open transaction.
WRITER = f"""
import asyncio, sys, time
from pathlib import Path
import agent_app_server.store.thread_store as ts
from agent_app_server.store import ThreadRecord, ThreadStore

mode = sys.argv[2]
calls = 0
original = ts._insert_events

def announced(*args):
    global calls
    print("inserting", flush=True)
    seqs = original(*args)
    print("inserted", flush=True)
    calls += 1
    if mode == "stall" and calls > {ACKED + 1}:
        time.sleep(60)
    return seqs

ts._insert_events = announced

async def main():
    store = await ThreadStore.open(Path(sys.argv[1]))
    for t in range({THREADS}):
        await store.put_thread(ThreadRecord(
            id=f"thread-{{t}}", created_at=1, updated_at=1, cwd="/", model_provider="p",
            source_kind="cli", source="cli", originator=None, preview="none"))
    print("threads", flush=True)
    batch = 0
    while True:
        events = [("item", {{"batch": batch, "i": i, "pad": "x" * 1000}}) for i in range({BATCH})]
        await store.append_events(
            f"thread-{{batch % {THREADS}}}", events,
            thread_updates={{"preview": f"batch {{batch}}", "updated_at": 1000 + batch}})
        print(f"committed {{batch}}", flush=True)
        batch += 1

asyncio.run(main())
"""


async def _inspect(path: Path) -> set[int]:
    """The batches present, each checked whole and consistent with its thread's fields."""
    batches: set[int] = set()
    async with await ThreadStore.open(path) as store:
        for t in range(THREADS):
            thread_id = f"thread-{t}"
            record = await store.get_thread(thread_id)
            assert record is not None
            events = await store.read_events(thread_id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert len(events) % BATCH == 0, "a batch was partially written"
            mine = []
            for start in range(0, len(events), BATCH):
                chunk = events[start : start + BATCH]
                batch = chunk[0].payload["batch"]
                assert [(e.payload["batch"], e.payload["i"]) for e in chunk] == [(batch, i) for i in range(BATCH)]
                mine.append(batch)
            assert mine == sorted(mine) and all(b % THREADS == t for b in mine)
            assert record.preview == (f"batch {mine[-1]}" if mine else "none"), "update and events torn apart"
            assert record.updated_at == (1000 + mine[-1] if mine else 1)
            batches.update(mine)
    return batches


def _uncommitted_wal_frames(wal: Path) -> int:
    """Frames of the WAL's current generation written after its last commit frame (a torn transaction)."""
    data = wal.read_bytes()
    _magic, _version, page_size, _checkpoint, salt1, salt2 = struct.unpack(">6I", data[:24])
    since_commit = 0
    for offset in range(32, len(data) - 24 - page_size + 1, 24 + page_size):
        _page, commit_size, frame_salt1, frame_salt2 = struct.unpack(">4I", data[offset : offset + 16])
        if (frame_salt1, frame_salt2) != (salt1, salt2):
            break  # leftovers of an earlier generation
        since_commit = 0 if commit_size else since_commit + 1
    return since_commit


def _run_and_kill(path: Path, mode: str, delay: float) -> int:
    """Start the writer, SIGKILL it inside the transaction after the ACKED-th commit; the last acked batch."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.stdout is not None
    last_committed = -1
    try:
        deadline = time.monotonic() + 60
        aim = "inserting" if mode == "during-insert" else "inserted"
        for line in proc.stdout:
            assert time.monotonic() < deadline, "the writer is too slow"
            if line.startswith("committed "):
                last_committed = int(line.split()[1])
            elif line.strip() == aim and last_committed >= ACKED:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return last_committed


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.005, 0.01])
def test_sigkill_during_insert_leaves_only_whole_transactions(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "crash.sqlite"
    last_committed = _run_and_kill(path, "during-insert", delay)
    assert last_committed >= ACKED
    batches = asyncio.run(_inspect(path))
    # Every acknowledged commit survived; the one in flight is wholly present or wholly absent.
    assert batches == set(range(len(batches)))
    assert last_committed + 1 <= len(batches) <= last_committed + 2


def test_sigkill_before_commit_rolls_the_transaction_back(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    last_committed = _run_and_kill(path, "stall", 0.05)
    assert last_committed == ACKED
    # The scenario really is a torn write: part of the open transaction reached the WAL file.
    assert _uncommitted_wal_frames(path.with_name(path.name + "-wal")) > 0
    assert asyncio.run(_inspect(path)) == set(range(ACKED + 1))
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "reopen should have recovered and checkpointed"
