"""docs/compatibility.md and the tests agree both ways: every row's id is carried by at least one
test (``@pytest.mark.compat("id")``), and every id a test carries has a row.

Marks are read from the source of every test module (AST), so the check does not depend on what
was collected, skipped or deselected in this run.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from support.reference import REPO_ROOT

MANIFEST = REPO_ROOT / "docs" / "compatibility.md"
TESTS = REPO_ROOT / "tests"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


#: Where the id tables end: the table after it lists methods (checked by test_method_coverage).
NOT_OFFERED_HEADING = "## Methods this server does not offer"


def manifest_ids() -> list[str]:
    """The id of every row of the id tables, in order."""
    text = MANIFEST.read_text().split(NOT_OFFERED_HEADING, 1)[0]
    return [match.group(1) for line in text.splitlines() if (match := ROW.match(line))]


def _is_compat(call: ast.Call) -> bool:
    func = call.func
    return (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)) == "compat"


def _is_allowed_difference(call: ast.Call) -> bool:
    """An entry of ``tests/differential/allowed.py``'s table: ``Allowed("<compat id>", …)``."""
    return (
        isinstance(call.func, ast.Name)
        and call.func.id == "Allowed"
        and bool(call.args)
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def tagged_ids() -> dict[str, list[str]]:
    """compat id → where a test carries it (``path:line``), over every module under tests/."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.py")):
        where = path.relative_to(REPO_ROOT)
        for call in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(call, ast.Call):
                continue
            if _is_allowed_difference(call):
                # The differential suite's table: each entry tags that suite's test of its method.
                found[call.args[0].value].append(f"{where}:{call.lineno}")  # type: ignore[attr-defined]
                continue
            if not _is_compat(call):
                continue
            if where.parts[:2] == ("tests", "differential") and not all(
                isinstance(argument, ast.Constant) for argument in call.args
            ):
                continue  # marks built from the table above
            for argument in call.args:
                assert isinstance(argument, ast.Constant) and isinstance(argument.value, str), (
                    f"{where}:{call.lineno}: compat() takes literal ids, so they can be checked without running tests"
                )
                found[argument.value].append(f"{where}:{call.lineno}")
    return dict(found)


def test_the_manifest_has_rows() -> None:
    ids = manifest_ids()
    assert len(ids) > 50, f"could not read the table of {MANIFEST}"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids used by more than one row of {MANIFEST.name}: {duplicates}"


def test_every_row_is_carried_by_a_test() -> None:
    tagged = tagged_ids()
    untested = [i for i in manifest_ids() if i not in tagged]
    assert not untested, (
        f"rows of docs/compatibility.md that no test carries (tag the test that checks each with "
        f'@pytest.mark.compat("id"), or write one): {untested}'
    )


def test_every_tagged_id_has_a_row() -> None:
    rows = set(manifest_ids())
    unknown = {i: where for i, where in tagged_ids().items() if i not in rows}
    assert not unknown, (
        f"compat ids used by tests with no row in docs/compatibility.md (add the row or fix the id): {unknown}"
    )
