"""The enforced Linux sandbox: turn a wire ``SandboxPolicy`` into the argv that runs a command
under it.

Owns: probing which mechanism works on this machine, building the bubblewrap (or Landlock
fallback) command line for a policy, and the heuristic that tells a sandbox denial from an
ordinary failure. Layer: core (stdlib only; nothing from ``server``).

Mechanisms, in order of preference (each is exercised by ``tests/core/test_sandbox_*.py``):

* ``bwrap+seccomp``: bubblewrap with the reference's shape — ``/`` read-only, writable roots
  bound read-write, ``.git``/``.codex``/``.agents``/``.aws`` inside every writable root read-only,
  new user/pid/ipc namespaces, a new network namespace when network is off, all capabilities
  dropped, a fresh ``/proc`` and ``/dev``. Inside it, :mod:`.seccomp_exec` sets ``no_new_privs``,
  installs the socket filter and execs the command.
* ``landlock+seccomp``: when bubblewrap is missing or cannot create namespaces but the kernel
  has Landlock. Writes are confined to the writable roots, but ``.git``/``.codex`` inside them
  are *not* protected (Landlock only grants, it cannot carve out), and there is no network
  namespace (the seccomp filter alone blocks network sockets).
* ``none``: **fail closed** — :func:`wrap` raises :class:`SandboxUnavailable` for any policy
  that needs a sandbox, and nothing runs.

``dangerFullAccess`` and ``externalSandbox`` run commands as they are (no seccomp either).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PROTECTED_NAMES",
    "SandboxStatus",
    "SandboxUnavailable",
    "WrappedCommand",
    "looks_like_sandbox_denial",
    "needs_sandbox",
    "probe",
    "wrap",
    "writable_roots",
]

#: Names kept read-only inside every writable root (as the reference: VCS metadata, agent
#: configuration and cloud credentials must not be changed by a sandboxed command).
PROTECTED_NAMES = (".git", ".codex", ".agents", ".aws")

HELPER = str(Path(__file__).with_name("seccomp_exec.py"))
INSTALL_HINT = "apt-get install bubblewrap"

#: Output fragments that mean "the sandbox said no" (the reference's list, case-insensitive).
_DENIAL_MARKERS = (
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "landlock",
    "failed to write file",
)
_SIGSYS_EXIT = 128 + 31


class SandboxUnavailable(Exception):
    """The policy needs a sandbox and none can be built here; the command was not run.

    The message names the missing prerequisite and how to install it.
    """


@dataclass(frozen=True)
class SandboxStatus:
    """What :func:`probe` found.

    ``mechanism`` is ``"bwrap+seccomp"``, ``"landlock+seccomp"`` or ``"none"``. ``problem`` says
    what is missing (also when a weaker fallback is in use); None when the preferred mechanism
    works.
    """

    available: bool
    mechanism: str
    problem: str | None = None
    #: bubblewrap can mount a fresh ``/proc`` (not in every container).
    fresh_proc: bool = True


class WrappedCommand(tuple[list[str], dict[str, str]]):
    """``(argv, env)`` as returned by :func:`wrap`, plus :meth:`cleanup`.

    Unpacks like a 2-tuple. Call :meth:`cleanup` once the process has exited: it removes the
    placeholder mount points the sandbox needed (see :func:`wrap`). It is idempotent, and
    :class:`~agent_app_server.core.processes.ManagedProcess` calls it when given one.
    """

    _cleanup: Callable[[], None] | None

    def __new__(cls, argv: list[str], env: dict[str, str], cleanup: Callable[[], None] | None = None) -> WrappedCommand:
        instance = super().__new__(cls, (argv, env))
        instance._cleanup = cleanup
        return instance

    @property
    def argv(self) -> list[str]:
        return self[0]

    @property
    def env(self) -> dict[str, str]:
        return self[1]

    def cleanup(self) -> None:
        callback, self._cleanup = self._cleanup, None
        if callback is not None:
            callback()


# ---------------------------------------------------------------------- probing

_probe_lock = threading.Lock()
_probed: SandboxStatus | None = None


def probe() -> SandboxStatus:
    """Which mechanism works here. Cached: only the first call spawns anything (bwrap and the
    helper, well under a second); call it off the event loop."""
    global _probed
    with _probe_lock:
        if _probed is None:
            _probed = _probe()
        return _probed


def _probe() -> SandboxStatus:
    if not sys.platform.startswith("linux"):
        return SandboxStatus(False, "none", f"no sandbox for {sys.platform}: only Linux is supported")
    bwrap_problem, fresh_proc = _probe_bwrap()
    if bwrap_problem is None:
        return SandboxStatus(True, "bwrap+seccomp", None, fresh_proc)
    landlock_problem = _probe_landlock()
    if landlock_problem is None:
        return SandboxStatus(
            True,
            "landlock+seccomp",
            f"{bwrap_problem}; using the Landlock fallback, which cannot keep .git/.codex read-only inside "
            "writable roots and has no network namespace",
        )
    return SandboxStatus(
        False,
        "none",
        f"{bwrap_problem}; the Landlock fallback is unavailable too ({landlock_problem}). Commands under the "
        "readOnly and workspaceWrite sandbox policies will not run until one of them works (or choose "
        "dangerFullAccess/externalSandbox explicitly)",
    )


def _run_quietly(argv: list[str]) -> tuple[int, str]:
    try:
        completed = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return 1, str(exc)
    return completed.returncode, completed.stderr.decode("utf-8", "replace").strip()


#: A command that is always there (PATH may be anything).
_NOOP = (sys.executable, "-I", "-S", "-c", "")


def _probe_bwrap() -> tuple[str | None, bool]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) not found on PATH: {INSTALL_HINT}", True
    base = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-net", "--die-with-parent"]
    base += ["--ro-bind", "/", "/", "--dev", "/dev"]
    tail = ["--cap-drop", "ALL", "--", sys.executable, "-I", "-S", HELPER, "--net", "off", "--", *_NOOP]
    code, err = _run_quietly([*base, "--proc", "/proc", *tail])
    if code == 0:
        return None, True
    # Some containers refuse a fresh procfs; the reference retries without one.
    code_no_proc, _ = _run_quietly([*base, *tail])
    if code_no_proc == 0:
        return None, False
    first_line = err.splitlines()[0] if err else f"exit code {code}"
    hint = ""
    if "namespace" in first_line.lower() or "permission" in first_line.lower():
        hint = (
            " (enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 and "
            "user.max_user_namespaces > 0)"
        )
    return f"bubblewrap (bwrap) cannot create a sandbox: {first_line}{hint}", True


def _probe_landlock() -> str | None:
    code, err = _run_quietly([sys.executable, "-I", "-S", HELPER, "--landlock", "--net", "off", "--", *_NOOP])
    if code == 0:
        return None
    return err.removeprefix("sandbox: ") or f"exit code {code}"


# ---------------------------------------------------------------------- policies


def needs_sandbox(policy: dict[str, Any]) -> bool:
    """Whether ``policy`` is enforced by us (readOnly, workspaceWrite) or not at all."""
    return policy.get("type") not in ("dangerFullAccess", "externalSandbox")


def network_allowed(policy: dict[str, Any]) -> bool:
    kind = policy.get("type")
    if kind in ("dangerFullAccess", "externalSandbox"):
        return True
    return bool(policy.get("networkAccess", False))


def writable_roots(policy: dict[str, Any], *, cwd: str, env: dict[str, str] | None = None) -> list[str]:
    """The existing directories a ``workspaceWrite`` policy lets commands write to, resolved.

    ``cwd`` (the workspace), ``writableRoots``, ``/tmp`` unless ``excludeSlashTmp`` and
    ``$TMPDIR`` unless ``excludeTmpdirEnvVar``. Nested roots are kept (their protected names
    need their own read-only binds). Empty for every other policy.
    """
    if policy.get("type") != "workspaceWrite":
        return []
    candidates = [cwd, *[str(root) for root in policy.get("writableRoots") or []]]
    if not policy.get("excludeSlashTmp", False):
        candidates.append("/tmp")
    tmpdir = (env if env is not None else os.environ).get("TMPDIR")
    if tmpdir and not policy.get("excludeTmpdirEnvVar", False):
        candidates.append(tmpdir)
    roots: list[str] = []
    for candidate in candidates:
        if not candidate or not os.path.isabs(candidate):
            candidate = os.path.join(cwd, candidate)
        resolved = os.path.realpath(candidate)
        if os.path.isdir(resolved) and resolved not in roots:
            roots.append(resolved)
    return roots


# ---------------------------------------------------------------------- placeholders


class _Placeholders:
    """Empty directories created on the host as mount points for missing protected names.

    A bind mount needs an existing path, so ``<root>/.codex`` must exist while a sandboxed
    command runs for the sandbox to keep it read-only (the reference does the same and removes
    them afterwards). Counted per path, so concurrent commands share one and the last one out
    removes it — only if it is still empty and still ours.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}

    def acquire(self, path: str) -> bool:
        with self._lock:
            if path in self._users:
                self._users[path] += 1
                return True
            try:
                os.mkdir(path, 0o555)
            except FileExistsError:
                return os.path.isdir(path)
            except OSError:
                return False
            self._users[path] = 1
            return True

    def release(self, paths: Sequence[str]) -> None:
        with self._lock:
            for path in paths:
                count = self._users.get(path, 0) - 1
                if count > 0:
                    self._users[path] = count
                    continue
                self._users.pop(path, None)
                with contextlib.suppress(OSError):
                    os.rmdir(path)


_placeholders = _Placeholders()


# ---------------------------------------------------------------------- wrap


def wrap(
    argv: list[str],
    *,
    policy: dict[str, Any],
    cwd: str,
    env: dict[str, str],
    tty: bool = False,
    sandbox_cwd: str | None = None,
    read_only_paths: Sequence[str] = (),
) -> WrappedCommand:
    """The command line (and environment) that runs ``argv`` under ``policy``.

    ``policy`` is the wire ``SandboxPolicy`` dict. ``cwd`` is where the command runs;
    ``sandbox_cwd`` (default ``cwd``) is the workspace root that ``workspaceWrite`` makes
    writable. ``tty``: the command gets a terminal, so it must stay in the terminal's session.
    ``read_only_paths``: extra paths kept read-only even inside writable roots (e.g. CODEX_HOME).

    ``dangerFullAccess``/``externalSandbox`` return ``argv`` unchanged. Otherwise this raises
    :class:`SandboxUnavailable` when :func:`probe` found no working mechanism (fail closed).
    Call :func:`probe` off the event loop before the first ``wrap`` (wrap probes if needed).
    The result unpacks as ``(argv, env)``; call its ``cleanup()`` after the process exits.
    """
    if not argv:
        raise ValueError("argv must not be empty")
    if not needs_sandbox(policy):
        return WrappedCommand(list(argv), dict(env))
    status = probe()
    if not status.available:
        raise SandboxUnavailable(f"sandbox unavailable: {status.problem}")
    network = network_allowed(policy)
    env = dict(env)
    if not network:
        env["CODEX_SANDBOX_NETWORK_DISABLED"] = "1"
    roots = writable_roots(policy, cwd=sandbox_cwd or cwd, env=env)
    helper = [sys.executable, "-I", "-S", HELPER, "--net", "on" if network else "off"]
    if status.mechanism == "landlock+seccomp":
        for root in roots:
            helper += ["--write", root]
        return WrappedCommand([*helper, "--landlock", "--", *argv], env)
    bwrap = shutil.which("bwrap", path=env.get("PATH")) or shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--die-with-parent"]
    if not tty:
        # A new session keeps the command from injecting input into our terminal (TIOCSTI);
        # a tty command must keep its own terminal as its controlling one.
        args.append("--new-session")
    args += ["--unshare-user", "--unshare-pid", "--unshare-ipc"]
    if not network:
        args.append("--unshare-net")
    args += ["--ro-bind", "/", "/", "--dev", "/dev"]
    if status.fresh_proc:
        args += ["--proc", "/proc"]
    for root in sorted(roots, key=lambda path: path.count("/")):
        args += ["--bind", root, root]
    created: list[str] = []
    for root in roots:
        for name in PROTECTED_NAMES:
            path = os.path.join(root, name)
            if os.path.lexists(path):
                args += ["--ro-bind", path, path]
            elif _placeholders.acquire(path):
                created.append(path)
                args += ["--ro-bind", path, path]
    for extra in read_only_paths:
        resolved = os.path.realpath(extra)
        if os.path.exists(resolved) and any(_is_within(resolved, root) for root in roots):
            args += ["--ro-bind", resolved, resolved]
    args += ["--chdir", cwd, "--cap-drop", "ALL", "--", *helper, "--", *argv]
    return WrappedCommand(args, env, (lambda: _placeholders.release(created)) if created else None)


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


# ---------------------------------------------------------------------- denials


def looks_like_sandbox_denial(exit_code: int | None, output: str) -> bool:
    """The reference's heuristic for "the sandbox refused this", for a sandboxed run.

    Non-zero exit and a tell-tale phrase in the output (``Read-only file system``,
    ``Permission denied``, ``Operation not permitted``…) → denied; exit 2/126/127 otherwise →
    an ordinary failure; 128+SIGSYS → denied. A guess, not a kernel signal: a command that
    merely prints "permission denied" counts too. Only meaningful when a sandbox was used.
    """
    if exit_code is None or exit_code == 0:
        return False
    lowered = output.lower()
    if any(marker in lowered for marker in _DENIAL_MARKERS):
        return True
    if exit_code in (2, 126, 127):
        return False
    return exit_code == _SIGSYS_EXIT
