"""The score of the last `mutmut run` (``make mutate``): killed / (killed + survived), per module.

mutmut keeps its results in ``mutants/**/*.meta``: exit code 1 means a test failed (killed),
0 means every test passed (survived), 33 means no test covers the mutant, None means not run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def _verdict(code: int | None) -> str:
    if code is None:
        return "not run"
    return {0: "survived", 33: "not covered"}.get(code, "killed")


def main() -> None:
    metas = sorted(Path("mutants").rglob("*.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutate` first")
        return
    total: Counter[str] = Counter()
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"].values()
        tally = Counter(
            "killed" if c not in (0, 33, None) else {0: "survived", 33: "not covered"}.get(c, "not run") for c in codes
        )
        total.update(tally)
        module = str(meta.relative_to("mutants").with_suffix("")).removesuffix(".py")
        decided = tally["killed"] + tally["survived"]
        score = f"{100 * tally['killed'] / decided:.0f}%" if decided else "-"
        print(f"{module:40} killed {tally['killed']:4}  survived {tally['survived']:4}  "
              f"not covered {tally['not covered']:3}  score {score}")  # fmt: skip
    decided = total["killed"] + total["survived"]
    if decided:
        print(f"{'all':40} killed {total['killed']:4}  survived {total['survived']:4}  "
              f"not covered {total['not covered']:3}  score {100 * total['killed'] / decided:.0f}%")  # fmt: skip


if __name__ == "__main__":
    main()
