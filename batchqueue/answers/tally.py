"""The answers to each question, counted in bounded memory (for charts and the report's summary).

A free-text question may have as many different answers as visits: at most :data:`MAX_VALUES`
different answers are counted one by one per question, the rest together as ``(other answers)``.

Usage::

    tally = AnswerTally()
    tally.add({"Recommend us?": "Yes"})
    tally.top(questions, per_question=8)     # {"Recommend us?": [["Yes", 1]]}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

MAX_VALUES = 1_000
OTHER = "(other answers)"
NO_ANSWER = "(no answer)"


class AnswerTally:
    """Counts of each answer, per question."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[str]] = {}
        self._other: Counter[str] = Counter()

    def add(self, answers: Mapping[str, str]) -> None:
        for question, answer in answers.items():
            counts = self._counts.setdefault(question, Counter())
            value = answer.strip() or NO_ANSWER
            if value in counts or len(counts) < MAX_VALUES:
                counts[value] += 1
            else:
                self._other[question] += 1

    def top(self, questions: Sequence[str], per_question: int) -> dict[str, list[list[str | int]]]:
        """For each of ``questions``: its most given answers (most first), the rest as one line."""
        found: dict[str, list[list[str | int]]] = {}
        for question in questions:
            counts = self._counts.get(question)
            if not counts:
                continue
            ranked = counts.most_common()
            shown: list[list[str | int]] = [[value, n] for value, n in ranked[:per_question]]
            rest = sum(n for _, n in ranked[per_question:]) + self._other[question]
            if rest:
                shown.append([OTHER, rest])
            found[question] = shown
        return found
