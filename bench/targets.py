"""The two servers under test and how to spawn each with a fresh CODEX_HOME.

Both get the same ``config.toml`` (the reference README's ``mock`` provider pointed at the fake
model server) and the same environment, so any difference is the server, not its setup.
"""

from __future__ import annotations

import compileall
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import agent_app_server
from peer import StdioPeer, env_with

if TYPE_CHECKING:
    from agent_app_server.client import AsyncClient

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
REFERENCE_PACKAGE = "@openai/codex@0.169.0"
REFERENCE_ENV = "AGENT_BENCH_REFERENCE"
MODEL = "mock-model"

# The npm package is a thin node launcher; the platform package holds the real binary, which we
# spawn directly so that the pid we measure (RSS) is the server itself, not node.
_BINARY_GLOBS = (
    "node_modules/@openai/codex-*/vendor/*/bin/codex",
    "node_modules/@openai/codex/vendor/*/bin/codex",
    "node_modules/@openai/codex/node_modules/@openai/codex-*/vendor/*/bin/codex",
)


class Unavailable(Exception):
    """A target that cannot be run at all (e.g. the reference could not be installed)."""


def _find_binary(prefix: Path) -> Path | None:
    for pattern in _BINARY_GLOBS:
        for match in sorted(glob.glob(str(prefix / pattern))):
            if os.access(match, os.X_OK):
                return Path(match)
    return None


def reference_binary(*, log: Path) -> Path:
    """``$AGENT_BENCH_REFERENCE`` if set, else the copy in ``bench/.cache`` (installed on first use)."""
    override = os.environ.get(REFERENCE_ENV)
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise Unavailable(f"{REFERENCE_ENV}={override} is not an executable file")
        return path
    found = _find_binary(CACHE_DIR)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable(f"npm not found; install {REFERENCE_PACKAGE} yourself and set {REFERENCE_ENV}")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"installing {REFERENCE_PACKAGE} into {CACHE_DIR} (once) ...", file=sys.stderr)
    with log.open("wb") as out:
        try:
            completed = subprocess.run(
                [npm, "install", "--no-save", "--prefix", str(CACHE_DIR), REFERENCE_PACKAGE],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise Unavailable(f"npm install timed out; see {log}") from exc
    found = _find_binary(CACHE_DIR)
    if completed.returncode != 0 or found is None:
        raise Unavailable(f"npm install {REFERENCE_PACKAGE} failed (exit {completed.returncode}); see {log}")
    return found


def write_config(codex_home: Path, model_base_url: str) -> None:
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL}"\n'
        'model_provider = "mock"\n'
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{model_base_url}"\n'
        'wire_api = "responses"\n'
        'env_key = "MOCK_API_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )


@dataclass
class Target:
    """One server under test. ``argv`` is complete (the binary and its arguments)."""

    name: str
    argv: list[str]
    #: Where this target's CODEX_HOMEs, workspace and stderr logs live for this run. Not under
    #: /tmp: the reference refuses to create its helper binaries there.
    root: Path
    model_base_url: str
    description: str
    _homes: int = 0

    def new_home(self, purpose: str) -> Path:
        self._homes += 1
        home = self.root / f"home-{self._homes:02d}-{purpose}"
        write_config(home, self.model_base_url)
        return home

    @property
    def workspace(self) -> Path:
        # A small, empty, non-git cwd: the reference inspects the cwd (git state, AGENTS.md) on
        # thread/start, and we do not want this repository's size to be part of the measurement.
        path = self.root / "workspace"
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def client(self, home: Path, *, experimental: bool = False) -> AsyncClient:
        """This target spawned over stdio behind the project's own client (initialized)."""
        from agent_app_server.client import AsyncClient, ClientOptions

        options = ClientOptions(client_name="bench", experimental_api=experimental)
        env = {"CODEX_HOME": str(home), "MOCK_API_KEY": "x"}
        return await AsyncClient.spawn(self.argv, env=env, cwd=str(self.workspace), options=options)

    def peer(self, home: Path, label: str) -> StdioPeer:
        env = env_with({"CODEX_HOME": str(home), "MOCK_API_KEY": "x"})
        return StdioPeer(
            f"{self.name}:{label}",
            self.argv,
            env=env,
            cwd=self.workspace,
            stderr_path=self.root / "logs" / f"{label}.stderr",
        )


def ours(run_dir: Path, model_base_url: str) -> Target:
    # As installed from a wheel, whose installer compiles the bytecode once: a source checkout
    # under PYTHONDONTWRITEBYTECODE would compile every module again in every spawn.
    compileall.compile_dir(Path(agent_app_server.__file__).parent, quiet=1)
    return Target(
        name="ours",
        argv=[sys.executable, "-m", "agent_app_server"],
        root=run_dir / "ours",
        model_base_url=model_base_url,
        description=f"{sys.executable} -m agent_app_server",
    )


def reference(run_dir: Path, model_base_url: str) -> Target:
    binary = reference_binary(log=run_dir / "npm-install.log")
    try:
        version = (
            subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
            .stdout.strip()
            .splitlines()[0:1]
        )
    except (OSError, subprocess.TimeoutExpired):
        version = []
    return Target(
        name="reference",
        argv=[str(binary), "app-server"],
        root=run_dir / "reference",
        model_base_url=model_base_url,
        description=f"{binary} app-server ({version[0] if version else 'version unknown'})",
    )
