"""Kill -9 the server at many points of a turn; count the announced items a restart lost.

```sh
.venv/bin/python bench/crash_kills.py                    # ours and the reference, 2 rounds (~40 kills each)
.venv/bin/python bench/crash_kills.py --targets ours --rounds 3
.venv/bin/python bench/crash_kills.py --targets ours --ours-src /path/to/old/checkout/src   # a before/after
```

Each target runs the scenarios of ``agent_app_server.testing.crash`` on one thread in a fresh
CODEX_HOME (under ``bench/.cache``): before any model output, mid-stream, after each of six items,
during an approval wait, after an approval with the command running, during a running command,
and at the n-th notification of a tool turn. After every kill the server restarts on the same
home and the harness checks ``thread/read``, the turn status and the next model request.
Prints one Markdown row per target; exits 1 if ours lost an item or broke any other check.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
import targets as target_defs
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.crash import CrashReport, CrashRun, scenarios
from peer import env_with


async def run_target(name: str, rounds: int, ours_src: str | None) -> tuple[CrashReport, float]:
    run_dir = target_defs.CACHE_DIR / f"crash-{name}-{int(time.time())}"
    async with FakeModelServer() as model:
        make = target_defs.ours if name == "ours" else target_defs.reference
        target = make(run_dir, model.base_url)
        home = target.new_home("crash")
        extra = {"CODEX_HOME": str(home), "MOCK_API_KEY": "x"}
        if name == "ours" and ours_src:
            extra["PYTHONPATH"] = ours_src
        crash = CrashRun(
            target.argv,
            env=env_with(extra),
            cwd=target.workspace,
            model=model,
            exact=name == "ours",
        )
        model.default_script = crash.script_source
        started = time.perf_counter()
        try:
            report = await crash.run(scenarios(rounds=rounds))
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        return report, time.perf_counter() - started


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="ours,reference", help="comma-separated: ours, reference")
    parser.add_argument("--rounds", type=int, default=2, help="times over the scenario list (19 kills each)")
    parser.add_argument(
        "--ours-src", help="run ours from this source tree (put first on PYTHONPATH), e.g. an older checkout's src/"
    )
    args = parser.parse_args()
    print(
        "| target | kills | items announced completed | lost | missing from next model request | other problems | s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    failed = False
    for name in [t.strip() for t in args.targets.split(",") if t.strip()]:
        try:
            report, seconds = await run_target(name, args.rounds, args.ours_src)
        except target_defs.Unavailable as exc:
            print(f"| {name} | unavailable: {exc} |")
            continue
        print(
            f"| {name} | {report.kills} | {report.announced} | {len(report.lost)} | "
            f"{len(report.context_missing)} | {len(report.problems)} | {seconds:.1f} |"
        )
        for line in [*report.lost, *report.context_missing, *report.problems]:
            print(f"  - {name}: {line}", file=sys.stderr)
        if name == "ours" and (report.lost or report.context_missing or report.problems):
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
