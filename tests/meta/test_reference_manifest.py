"""The reference data in tests/reference is exactly what MANIFEST.json lists, and what the binary generates."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.reference import REPO_ROOT, reference_binary

SCRIPT = REPO_ROOT / "scripts" / "reference.py"


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "verify", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_reference_files_match_their_manifest() -> None:
    completed = _verify()
    assert completed.returncode == 0, completed.stderr
    assert "files match the manifest" in completed.stdout


def test_reference_binary_regenerates_the_committed_schema() -> None:
    binary, reason = reference_binary()
    if binary is None:
        pytest.skip(f"cannot regenerate the schema: {reason}")
    completed = _verify("--regenerate")
    assert completed.returncode == 0, completed.stderr
    assert "files match the manifest and binary" in completed.stdout
