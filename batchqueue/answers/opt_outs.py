"""``--opt-out-when 'QUESTION=VALUE'``: which answers put a number on a do-not-call list.

A question's text may hold ``=`` itself, so the split is the one whose left side names a question
of the report (its exact text, else the one question it names in any letter case); none, or two
such splits, is a :class:`UsageError` listing the questions. An answer matches when it equals
VALUE, spaces around either and letter case aside (``9`` and `` 9 ``, ``Stop`` and ``STOP``).

Usage::

    rules = resolve_rules(["Press 9 to stop these calls=9"], page.columns.questions)
    [r for r in rules if r.matches(answers)]
    ledger.add_to_dnc(opt_out_listings(visits, rules, OptedOut("survey-opt-outs"), job_id=1, report_id="77", now=now))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from batchqueue.answers.accounting import utc
from batchqueue.errors import UsageError
from batchqueue.ledger.records import Listing
from batchqueue.untrusted import printable


@dataclass(frozen=True)
class OptOutRule:
    """An answer that opts a number out: ``question`` (as the report names it) equal to ``value``."""

    question: str
    value: str

    def matches(self, answers: Mapping[str, str]) -> bool:
        answer = answers.get(self.question)
        return answer is not None and answer.strip().casefold() == self.value.strip().casefold()

    def __str__(self) -> str:
        return f"{self.question}={self.value}"


def check_syntax(given: Sequence[str]) -> list[str]:
    """``given`` as typed, each checked to have a question and an ``=`` (UsageError if not)."""
    for text in given:
        left, sep, _ = text.partition("=")
        if not sep or not left.strip():
            raise UsageError(f"--opt-out-when {text!r}: write it as 'QUESTION=ANSWER', e.g. 'Stop these calls?=9'")
    return list(given)


def resolve_rules(given: Sequence[str], questions: Sequence[str]) -> list[OptOutRule]:
    """The rules ``given`` with their question found among the report's ``questions``."""
    exact = set(questions)
    folded: dict[str, list[str]] = {}
    for q in questions:
        folded.setdefault(q.strip().casefold(), []).append(q)
    rules = []
    for text in check_syntax(given):
        found: list[OptOutRule] = []
        for at, char in enumerate(text):
            if char != "=":
                continue
            left, value = text[:at], text[at + 1 :]
            if left in exact:
                found.append(OptOutRule(left, value))
            elif len(folded.get(left.strip().casefold(), [])) == 1:
                found.append(OptOutRule(folded[left.strip().casefold()][0], value))
        if len(found) != 1:
            listed = "; ".join(repr(q) for q in questions[:20]) or "none (the report has no question columns)"
            why = "names no question of the report" if not found else "can be split into a question in two ways"
            raise UsageError(f"--opt-out-when {text!r} {why}; its questions are: {listed}")
        rules.append(found[0])
    return rules


@dataclass
class OptedOut:
    """Numbers whose answer opts them out: visits that matched, numbers newly listed, the first few."""

    list_name: str
    rules: list[str] = field(default_factory=list)
    matched: int = 0
    added: int = 0
    numbers: list[str] = field(default_factory=list)


def opt_out_listings(
    visits: Iterable[tuple[str, float | None, str]],
    rules: Sequence[OptOutRule],
    done: OptedOut,
    *,
    job_id: int,
    report_id: str,
    now: float,
) -> Iterator[Listing]:
    """A do-not-call listing for each visit (number, start, answers as JSON) whose answers match a
    rule, its source saying where and when that was said; ``done`` counts them."""
    for e164, start, raw in visits:
        answers = json.loads(raw)
        for rule in rules:
            if rule.matches(answers):
                done.matched += 1
                if len(done.numbers) < 50:
                    done.numbers.append(e164)
                said = f"{printable(rule.question, 120)!r} = {printable(answers[rule.question], 60)!r}"
                source = f"survey answer: job {job_id}, report {report_id}, {said}, visit {utc(start)}"
                yield Listing(done.list_name, e164, now, source)
                break
