"""The front ends reach the application only through its face.

``batchqueue/cli`` and ``batchqueue/console`` may import, of batchqueue, only the service layer
(``batchqueue.service``), the error tree, the exit codes, the defaults and the logs, and their own
package. Every import counts: at module level, inside functions, under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import batchqueue

PACKAGE = Path(batchqueue.__file__).parent
ALLOWED = ("service", "errors", "exits", "defaults", "logs")
FRONT_ENDS = ("cli", "console")
#: ``from batchqueue import __version__``: the package's version, not a module under it.
ROOT_NAMES = {"__version__"}
#: One front end starting another: ``batchqueue console`` serves the console through its entry point
#: (and nothing else of it).
ENTRY_POINTS = {"cli": {"batchqueue.console.server"}}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """Every batchqueue module ``path`` imports, as absolute dotted names with their line numbers."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == "batchqueue" or node.module is None:  # `from batchqueue import x`, `from . import x`
                found += [(node.lineno, f"{source}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, source))
    return [(line, name) for line, name in found if name == "batchqueue" or name.startswith("batchqueue.")]


def _allowed(name: str, own: str) -> bool:
    parts = name.split(".")
    if len(parts) == 1:
        return False
    if name in ENTRY_POINTS.get(own, set()):
        return True
    return parts[1] in (*ALLOWED, own) or (len(parts) == 2 and parts[1] in ROOT_NAMES)


def _violations(front_end: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / front_end).rglob("*.py")):
        for line, name in _imported(path):
            if not _allowed(name, front_end):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_front_end_imports_only_the_face(front_end: str) -> None:
    assert _violations(front_end) == []


SAMPLE = """
from typing import TYPE_CHECKING
import batchqueue.ledger
from batchqueue import untrusted, __version__
from . import output
from ..intake import loader
if TYPE_CHECKING:
    from batchqueue.settings import Settings
def command():
    from batchqueue.calling.registry import RULES
    class Inner:
        import batchqueue.periods
"""


def test_the_check_sees_every_kind_of_import() -> None:
    """The parser finds imports at module level, inside functions and classes, relative ones and
    those under TYPE_CHECKING; and it reads the real modules at all."""
    names = [name for _, name in _imports_in(SAMPLE, "batchqueue.cli")]
    assert sorted(names) == [
        "batchqueue.__version__",
        "batchqueue.calling.registry",
        "batchqueue.cli.output",
        "batchqueue.intake",  # `from ..intake import loader`: the package is what counts
        "batchqueue.ledger",
        "batchqueue.periods",
        "batchqueue.settings",
        "batchqueue.untrusted",
    ]
    assert "batchqueue.cli.output" in {name for _, name in _imported(PACKAGE / "cli" / "options.py")}
    assert not _allowed("batchqueue.ledger", "cli")
    assert not _allowed("batchqueue.console.app", "cli")
    assert _allowed("batchqueue.console.server", "cli")
    assert not _allowed("batchqueue.cli.options", "console")
    assert _allowed("batchqueue.console.app", "console")
    assert _allowed("batchqueue.service.sending", "cli")
    assert _allowed("batchqueue.__version__", "cli")
    assert not _allowed("batchqueue.untrusted", "console")
