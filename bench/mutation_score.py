"""The score of the last `mutmut run` (``make mutate``): killed / (killed + survived), per module.

mutmut keeps its results in ``mutants/**/*.meta`` as exit codes, read with mutmut's own table:
a test failed or the tests ran out of time (killed), every test passed (survived), no test covers
the mutant (not covered), not run; anything else (suspicious, interrupted) is counted apart.

Usage: ``python bench/mutation_score.py [MODULE ...]`` (dotted, as ``batchqueue.ledger.sending``):
every module of ``[tool.mutmut] only_mutate`` by default. A module none of whose mutants ran says
"not measured", never a score.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

#: The score each module should reach (issue 20).
TARGET = 85.0


_VERDICTS = {
    "killed": "killed",
    "timeout": "killed",
    "segfault": "killed",
    "caught by type check": "killed",
    "survived": "survived",
    "no tests": "not covered",
    "not checked": "not run",
}


def verdict(code: int | None) -> str:
    return _VERDICTS.get(status_by_exit_code[code], "other")


def configured_modules() -> list[str]:
    config = tomllib.loads(Path("pyproject.toml").read_text())
    paths = config["tool"]["mutmut"]["only_mutate"]
    return [p.removesuffix(".py").replace("/", ".") for p in paths]


def tally_of(module: str) -> Counter[str] | None:
    """The verdicts of ``module``'s mutants, or None when mutmut has not mutated it."""
    meta = Path("mutants", *module.split(".")).with_suffix(".py.meta")
    if not meta.exists():
        return None
    codes = json.loads(meta.read_text())["exit_code_by_key"].values()
    return Counter(verdict(c) for c in codes)


def line(name: str, tally: Counter[str]) -> str:
    decided = tally["killed"] + tally["survived"]
    if not decided:
        return f"{name:36} not measured ({tally['not run']} mutants not run, {tally['not covered']} not covered)"
    score = 100 * tally["killed"] / decided
    mark = "" if score >= TARGET else f"  below the {TARGET:.0f}% target"
    return (
        f"{name:36} killed {tally['killed']:4}  survived {tally['survived']:4}  not covered {tally['not covered']:3}  "
        f"not run {tally['not run']:4}  other {tally['other']:2}  score {score:3.0f}% (target {TARGET:.0f}%){mark}"
    )


def main(argv: list[str]) -> None:
    modules = argv or configured_modules()
    if not Path("mutants").is_dir():
        print("no mutmut results under mutants/: run `make mutate` first")
        return
    total: Counter[str] = Counter()
    for module in modules:
        tally = tally_of(module)
        if tally is None:
            print(f"{module:36} not measured (not mutated: is it in [tool.mutmut] only_mutate?)")
            continue
        total.update(tally)
        print(line(module, tally))
    if len(modules) > 1:
        print(line("all of these", total))


if __name__ == "__main__":
    main(sys.argv[1:])
