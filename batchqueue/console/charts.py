"""Charts as SVG geometry, computed on the server: the pages draw them with no script and no inline
style (the Content-Security-Policy allows neither), and they print."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from batchqueue.service.job_page import Segment


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Tick:
    """A label on a chart's time axis, under the bar it names."""

    label: str
    x: float
    anchor: str  # SVG text-anchor: start, middle or end


def progress(segments: Sequence[Segment], width: float = 600.0) -> list[Bar]:
    """One bar split into its labelled segments (sent, sending, held, left, not sent), each as wide
    as its share of the rows that are to be sent."""
    total = sum(s.rows for s in segments) or 1
    bars, x = [], 0.0
    for segment in segments:
        w = width * segment.rows / total
        css = "seg-" + segment.label.replace(" ", "-")
        bars.append(Bar(segment.label, segment.rows, round(x, 2), 0.0, round(w, 2), 18.0, css))
        x += w
    return bars


def horizontal(items: Sequence[tuple[str, int]], width: float = 360.0, row: float = 22.0) -> list[Bar]:
    """One bar per item, longest the full width (outcomes, reasons for failure)."""
    top = max((n for _, n in items), default=0) or 1
    return [
        Bar(label, n, 0.0, i * row, round(max(width * n / top, 1.0 if n else 0.0), 2), row - 6, "bar")
        for i, (label, n) in enumerate(items)
    ]


def columns(items: Sequence[tuple[int, int]], width: float = 600.0, height: float = 120.0) -> list[Bar]:
    """One column per minute (requests sent), labelled with the minute's local clock time."""
    top = max((n for _, n in items), default=0) or 1
    step = width / max(len(items), 1)
    bars = []
    for i, (minute, n) in enumerate(items):
        h = height * n / top
        label = time.strftime("%H:%M", time.localtime(minute))
        bars.append(Bar(label, n, round(i * step, 2), round(height - h, 2), round(step * 0.8, 2), round(h, 2), "col"))
    return bars


def ticks(bars: Sequence[Bar], every: int = 10) -> list[Tick]:
    """The time axis under ``bars``: a label under every ``every``-th bar, counted back from the last
    (the minute now, at the axis's end, where the last bar is), each centred on its bar (the ends
    aligned to the chart's edges)."""
    found: list[Tick] = []
    for i in range(len(bars) - 1, -1, -every):
        bar = bars[i]
        anchor = "end" if i == len(bars) - 1 else "start" if i == 0 else "middle"
        x = bar.x + bar.width if anchor == "end" else bar.x if anchor == "start" else bar.x + bar.width / 2
        found.append(Tick(bar.label, round(x, 2), anchor))
    return found[::-1]


@dataclass(frozen=True)
class QuestionChart:
    """One question's answers as bars (most given first; the rest as one bar)."""

    question: str
    bars: list[Bar]
    answered: int


def answers(
    tally: Mapping[str, Sequence[Sequence[object]]], questions: int, width: float = 200.0
) -> list[QuestionChart]:
    """The first ``questions`` questions' answers (``answers``' stored tally), one chart each."""
    charts = []
    for question, values in list(tally.items())[:questions]:
        items = [(str(value), int(str(n))) for value, n in values]
        charts.append(QuestionChart(question, horizontal(items, width=width), sum(n for _, n in items)))
    return charts
