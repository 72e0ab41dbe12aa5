"""Package-level import cycles among batchqueue's sub-packages (intake, calling, reports, ...).

An edge A -> B means some module of ``batchqueue.A`` imports ``batchqueue.B`` at module level
(``--lazy`` also counts imports inside functions). Prints every edge, then every cycle (strongly
connected components of more than one package). Target: no cycle through ``places``, and none among
intake, calling and reports. Run: python bench/import_cycles.py [--lazy]
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "batchqueue"


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "batchqueue" else None


def edges(lazy: bool) -> dict[str, set[str]]:
    """{package: the packages its modules import}."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        own = rel.parts[1]  # batchqueue/<package>/…, or a top-level module (its own "package")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = ast.walk(tree) if lazy else _top_level(tree)
        for node in nodes:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = _package(name)
                if target and target != own:
                    found[own].add(target)
    return found


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements (a ``try`` block's body included; ``if TYPE_CHECKING`` blocks left out: never run)."""
    out: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Try):
            out.extend(node.body)
        out.append(node)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lazy", action="store_true", help="count imports inside functions too")
    args = parser.parse_args()
    graph = edges(args.lazy)
    for package in ("intake", "calling", "reports", "places"):
        print(f"{package} imports: {', '.join(sorted(graph.get(package, ()))) or '-'}")
    found = cycles(graph)
    print(f"cycles ({'module-level and lazy' if args.lazy else 'module-level'} imports): {len(found)}")
    for comp in found:
        print("  " + " <-> ".join(comp))
    base = graph.get("places", set())
    print(
        f"places imports: {sorted(base) or 'nothing of batchqueue'} (target: none of intake, calling, reports, ledger)"
    )


if __name__ == "__main__":
    main()
