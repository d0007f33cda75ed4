#!/usr/bin/env python3
"""Installs the pinned reference (`codex` 0.169.0 from npm) and keeps its schema in the repository.

    python3 scripts/reference.py install   # npm install into .cache/reference (once; idempotent)
    python3 scripts/reference.py schema    # regenerate tests/reference/codex-0.169.0/schema* + MANIFEST.json
    python3 scripts/reference.py verify    # the files match MANIFEST.json
    python3 scripts/reference.py verify --regenerate   # ... and the binary still generates exactly them

The tests read only the committed files; the binary is needed to regenerate them and for the tests
that run the reference itself. Standard library only: this runs before the project is installed.

Exit codes: 0 done, 1 files differ from the manifest (or from what the binary generates),
3 npm is missing or the registry cannot be reached, 4 the reference binary is not available.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from reference import (  # the path above makes it importable
    INSTALL_HINT,
    MANIFEST,
    REFERENCE_CACHE,
    REFERENCE_DIR,
    REFERENCE_PACKAGE,
    REFERENCE_VERSION,
    REPO_ROOT,
    reference_binary,
)

EXIT_DIFFERS = 1
EXIT_NPM_UNAVAILABLE = 3
EXIT_NO_BINARY = 4

#: Output folder → extra `generate-json-schema` arguments.
SCHEMA_FLAVORS = {"schema": [], "schema-experimental": ["--experimental"]}
#: Ours, not the reference's: not hashed.
NOT_REFERENCE_DATA = {MANIFEST.name, "README.md"}
#: npm's words for "could not talk to the registry" (DNS, refused, timed out, offline).
_NETWORK_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "network")


class Failure(Exception):
    """Ends the script with a message (what went wrong and what to do) and an exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _binary_version(binary: Path) -> str:
    try:
        completed = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        return f"(cannot run: {exc})"
    return completed.stdout.strip() or completed.stderr.strip()


def _usable_binary() -> Path:
    binary, reason = reference_binary()
    if binary is None:
        raise Failure(reason, EXIT_NO_BINARY)
    version = _binary_version(binary)
    if not version.endswith(f" {REFERENCE_VERSION}"):
        raise Failure(f"{binary} reports `{version}`, not {REFERENCE_VERSION}; {INSTALL_HINT}", EXIT_NO_BINARY)
    return binary


def install() -> Path:
    """The pinned binary, installed into the cache by npm unless a usable one is already there."""
    try:
        binary = _usable_binary()
    except Failure:
        pass
    else:
        print(f"reference {REFERENCE_VERSION} already available: {binary}")
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise Failure(
            f"npm is not installed, so {REFERENCE_PACKAGE} cannot be installed; install Node.js/npm "
            "(Debian: apt-get install npm) and run this again",
            EXIT_NPM_UNAVAILABLE,
        )
    REFERENCE_CACHE.mkdir(parents=True, exist_ok=True)
    log = REFERENCE_CACHE / "npm-install.log"
    print(f"installing {REFERENCE_PACKAGE} into {REFERENCE_CACHE} (npm) ...", flush=True)
    argv = [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(REFERENCE_CACHE)]
    # Fail within a minute when offline instead of npm's default minutes of retries.
    argv += ["--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000"]
    try:
        completed = subprocess.run([*argv, REFERENCE_PACKAGE], capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired as exc:
        raise Failure(f"npm install {REFERENCE_PACKAGE} did not finish in 15 minutes", EXIT_NPM_UNAVAILABLE) from exc
    log.write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        if any(word in output for word in _NETWORK_ERRORS):
            raise Failure(
                f"the npm registry could not be reached, so {REFERENCE_PACKAGE} was not installed (npm log: {log})",
                EXIT_NPM_UNAVAILABLE,
            )
        raise Failure(
            f"npm install {REFERENCE_PACKAGE} failed (exit {completed.returncode}); see {log}", EXIT_NPM_UNAVAILABLE
        )
    binary = _usable_binary()
    print(f"installed: {binary}")
    return binary


def _generate(binary: Path, into: Path) -> None:
    """Runs the binary's schema generator for every flavor into ``into/<flavor>``."""
    # A private CODEX_HOME: generation must not depend on (or touch) the user's configuration.
    home = into / "codex-home"
    home.mkdir()
    env = {**os.environ, "CODEX_HOME": str(home)}
    for folder, extra in SCHEMA_FLAVORS.items():
        argv = [str(binary), "app-server", "generate-json-schema", *extra, "--out", str(into / folder)]
        completed = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
        if completed.returncode != 0:
            raise Failure(
                f"`{' '.join(argv)}` failed (exit {completed.returncode}): {completed.stderr.strip()}", EXIT_NO_BINARY
            )


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every reference file under ``root``, keyed by its path relative to it."""
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in NOT_REFERENCE_DATA:
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _schema_digests(root: Path) -> dict[str, str]:
    return {name: digest for name, digest in _digests(root).items() if name.split("/")[0] in SCHEMA_FLAVORS}


def _differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    lines = [f"missing: {name}" for name in sorted(expected.keys() - actual.keys())]
    lines += [f"not in the manifest: {name}" for name in sorted(actual.keys() - expected.keys())]
    lines += [f"changed: {name}" for name in sorted(expected.keys() & actual.keys()) if expected[name] != actual[name]]
    return lines


def _scratch() -> tempfile.TemporaryDirectory[str]:
    # Inside the cache, not /tmp: the reference refuses to create its helper binaries under /tmp
    # and says so on stderr.
    REFERENCE_CACHE.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="schema-", dir=REFERENCE_CACHE)


def schema() -> None:
    """Regenerates the committed schema folders from the binary, then the manifest."""
    binary = _usable_binary()
    with _scratch() as scratch:
        fresh = Path(scratch)
        _generate(binary, fresh)
        changes = _differences(_schema_digests(REFERENCE_DIR), _schema_digests(fresh))
        for folder in SCHEMA_FLAVORS:
            shutil.rmtree(REFERENCE_DIR / folder, ignore_errors=True)
            shutil.copytree(fresh / folder, REFERENCE_DIR / folder)
    manifest = {
        "reference": f"codex app-server {REFERENCE_VERSION}",
        "version": REFERENCE_VERSION,
        "npmPackage": REFERENCE_PACKAGE,
        "generatedBy": "python3 scripts/reference.py schema",
        "commands": [
            " ".join(["codex app-server generate-json-schema", *extra, "--out", folder])
            for folder, extra in SCHEMA_FLAVORS.items()
        ],
        "sha256": _digests(REFERENCE_DIR),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    where = REFERENCE_DIR.relative_to(REPO_ROOT)
    if changes:
        print(f"{where}: the binary generated a different schema; replaced:", *changes, sep="\n  ")
    else:
        print(f"{where}: the binary generated the committed schema exactly")
    print(f"wrote {MANIFEST.relative_to(REPO_ROOT)} ({len(manifest['sha256'])} files)")


def verify(*, regenerate: bool) -> None:
    """The committed files are the manifest's (and, with ``regenerate``, what the binary generates)."""
    if not MANIFEST.is_file():
        raise Failure(f"{MANIFEST} is missing; write it with `python3 scripts/reference.py schema`", EXIT_DIFFERS)
    manifest = json.loads(MANIFEST.read_text())
    if manifest.get("version") != REFERENCE_VERSION:
        raise Failure(
            f"{MANIFEST} is for {manifest.get('version')!r}, the tests pin {REFERENCE_VERSION}; "
            "regenerate with `python3 scripts/reference.py schema`",
            EXIT_DIFFERS,
        )
    problems = _differences(manifest["sha256"], _digests(REFERENCE_DIR))
    if regenerate:
        binary = _usable_binary()
        with _scratch() as scratch:
            _generate(binary, Path(scratch))
            generated = _schema_digests(Path(scratch))
        problems += [f"{line} (vs. the binary)" for line in _differences(generated, _schema_digests(REFERENCE_DIR))]
    if problems:
        raise Failure(
            f"{REFERENCE_DIR.relative_to(REPO_ROOT)} does not match:\n  "
            + "\n  ".join(problems)
            + "\nIf the reference changed on purpose, run `python3 scripts/reference.py schema` and commit the result.",
            EXIT_DIFFERS,
        )
    checked = "manifest and binary" if regenerate else "manifest"
    print(f"{REFERENCE_DIR.relative_to(REPO_ROOT)}: {len(manifest['sha256'])} files match the {checked}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help=f"npm install {REFERENCE_PACKAGE} into {REFERENCE_CACHE}")
    commands.add_parser("schema", help="regenerate the committed schema and MANIFEST.json from the binary")
    check = commands.add_parser("verify", help="check the committed files against MANIFEST.json")
    check.add_argument("--regenerate", action="store_true", help="also check that the binary generates them exactly")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            install()
        elif args.command == "schema":
            schema()
        else:
            verify(regenerate=args.regenerate)
    except Failure as failure:
        print(f"scripts/reference.py {args.command}: {failure}", file=sys.stderr)
        return failure.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
