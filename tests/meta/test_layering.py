"""Import layering of every package, read from the source with ``ast`` (nothing is imported).

The server packages stack ``protocol`` · ``transport`` · ``rpc`` · ``store`` · ``core`` ·
``server``: each imports only packages before it. Clients (``client``, then ``tui``,
``dashboard``, ``gateway`` where present) import only ``protocol``, ``transport``, ``rpc`` and
``client``. Every import counts, including ones inside functions and ``TYPE_CHECKING`` blocks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import agent_app_server

PACKAGE = "agent_app_server"
SOURCE = Path(agent_app_server.__file__).parent

LAYERS = ["protocol", "transport", "rpc", "store", "core", "server"]
CLIENT_IMPORTS = frozenset({"protocol", "transport", "rpc", "client"})

#: What every part may import from the root package itself.
ROOT_NAMES = frozenset({"__version__", "PROTOCOL_VERSION", "lazy_exports"})

#: What each top-level part of the package may import from the project besides itself and the
#: root package (``ROOT_NAMES``).
ALLOWED: dict[str, frozenset[str]] = {
    **{layer: frozenset(LAYERS[:index]) for index, layer in enumerate(LAYERS)},
    # Narrower than the order allows, as their docstrings say: a transport knows bytes and
    # frames, not wire types; the core reaches clients only through an EventSink.
    "transport": frozenset(),
    "core": frozenset({"protocol", "rpc", "store"}),
    **dict.fromkeys(["client", "tui", "dashboard", "gateway"], CLIENT_IMPORTS),
    # The fake model provider stands outside the server: tests run it against either server.
    "testing": frozenset(),
    # Entry points assemble everything; the embedded server joins the server to a client.
    "cli": frozenset(LAYERS),
    "commands": frozenset({*LAYERS, "client", "embedded", "tui", "dashboard", "gateway"}),
    "embedded": frozenset({*LAYERS, "client"}),
    "__main__": frozenset({"cli"}),
}

_LAYER_LINE = re.compile(r"\bLayer(ing)?:")
#: The root package's docstring is the map of the layers itself.
_LAYER_MAP = "__init__"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "core/turns"
    line: int
    target: str  # dotted, e.g. "agent_app_server.server.app"

    @property
    def part(self) -> str:
        return self.module.split("/")[0]

    @property
    def target_part(self) -> str | None:
        """The top-level part imported, or None for the root package itself."""
        pieces = self.target.split(".")
        return pieces[1] if len(pieces) > 1 and pieces[1] not in ROOT_NAMES else None


def _modules() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(SOURCE).with_suffix("").as_posix()


def _imports(path: Path) -> list[Import]:
    return _imports_of(_name(path), path.read_text(encoding="utf-8"))


def _imports_of(name: str, source: str) -> list[Import]:
    """The project imports in ``source``, read as the module ``name`` (e.g. ``core/turns``)."""
    # The package a relative import starts from: the module's own for __init__, else its parent.
    package = [PACKAGE, *name.split("/")[:-1]]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                prefix = f"{base}.{node.module}" if node.module else base
            else:
                prefix = node.module or ""
            # ``from . import x`` may import a submodule x: count each name.
            targets = [f"{prefix}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found += [Import(name, node.lineno, target) for target in targets if target.split(".")[0] == PACKAGE]
    return found


def _violations() -> list[str]:
    problems = []
    for path in _modules():
        for found in _imports(path):
            part, target = found.part, found.target_part
            if part == "__init__" or target is None or target == part:
                continue
            allowed = ALLOWED.get(part)
            if allowed is None:
                problems.append(f"{found.module}.py: {part!r} has no layering rule; add it to ALLOWED")
            elif target not in allowed:
                problems.append(
                    f"{found.module}.py:{found.line} imports {found.target} ({part} may import: "
                    f"{', '.join(sorted(allowed)) or 'nothing of this project'})"
                )
    return problems


def test_the_rules_follow_the_layer_order() -> None:
    for index, layer in enumerate(LAYERS):
        assert ALLOWED[layer] <= set(LAYERS[:index]), layer


def test_no_package_imports_outside_its_layer() -> None:
    assert _violations() == []


def test_every_top_level_part_has_a_rule() -> None:
    parts = {_name(path).split("/")[0] for path in _modules()} - {"__init__", "py"}
    assert parts - set(ALLOWED) == set()


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("core/x", "from ..server import app", "agent_app_server.server.app"),
        ("core/__init__", "from .turns import TurnRunner", "agent_app_server.core.turns.TurnRunner"),
        ("server/handlers/x", "from ...core import sandbox", "agent_app_server.core.sandbox"),
        ("rpc/x", "import agent_app_server.store", "agent_app_server.store"),
    ],
)
def test_imports_are_resolved_to_absolute_names(module: str, source: str, expected: str) -> None:
    (found,) = _imports_of(module, source)
    assert found.target == expected


def test_every_module_says_what_it_owns_and_its_layer() -> None:
    missing_docstring = []
    missing_layer = []
    for path in _modules():
        name = _name(path)
        if name == _LAYER_MAP:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if docstring is None:
            missing_docstring.append(name)
        elif docstring is not None and not _LAYER_LINE.search(docstring):
            missing_layer.append(name)
    assert missing_docstring == []
    assert missing_layer == [], "say which layers these modules may import (a 'Layer:' line in the docstring)"
