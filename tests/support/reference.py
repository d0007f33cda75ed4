"""The pinned reference, `codex app-server` 0.169.0, as the tests see it.

Owns: where the reference's generated JSON Schema and the recorded reference behaviour live inside
this repository (``tests/reference/codex-0.169.0``, written by ``scripts/reference.py``), where the
reference binary is installed (``.cache/reference``, ignored by git) and how it is found. A clone
alone has everything the tests read; only the binary comes from npm. Standard library only:
``scripts/reference.py`` imports this module before any dependency is installed.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

REFERENCE_VERSION = "0.169.0"
REFERENCE_PACKAGE = f"@openai/codex@{REFERENCE_VERSION}"
REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPO_ROOT / "tests" / "reference" / f"codex-{REFERENCE_VERSION}"
#: The sha256 of every reference file, written by `scripts/reference.py schema`.
MANIFEST = REFERENCE_DIR / "MANIFEST.json"
#: Where `scripts/reference.py install` puts the npm package (ignored by git).
REFERENCE_CACHE = REPO_ROOT / ".cache" / "reference"
#: Overrides the binary (an absolute path to the platform `codex` executable).
BINARY_ENV = "AGENT_REFERENCE_BINARY"
INSTALL_HINT = f"run `python3 scripts/reference.py install` (needs the npm registry) or set {BINARY_ENV}"

# The npm package is a thin node launcher; the platform package (an optional dependency, hoisted
# or nested depending on the npm version) holds the real binary, which is what we run.
_BINARY_GLOBS = (
    "node_modules/@openai/codex-*/vendor/*/bin/codex",
    "node_modules/@openai/codex/vendor/*/bin/codex",
    "node_modules/@openai/codex/node_modules/@openai/codex-*/vendor/*/bin/codex",
)


def reference_binary() -> tuple[Path | None, str]:
    """The reference executable, or ``None`` and the reason it is not available (for skip messages)."""
    override = os.environ.get(BINARY_ENV)
    if override:
        path = Path(override)
        if os.access(path, os.X_OK):
            return path, ""
        return None, f"{BINARY_ENV}={override} is not an executable file"
    for pattern in _BINARY_GLOBS:
        for match in sorted(glob.glob(str(REFERENCE_CACHE / pattern))):
            if os.access(match, os.X_OK):
                return Path(match), ""
    return None, (
        f"the reference binary (npm {REFERENCE_PACKAGE}) is not installed in {REFERENCE_CACHE}; {INSTALL_HINT}"
    )
