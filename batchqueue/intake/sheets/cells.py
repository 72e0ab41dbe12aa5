"""Excel cell values as the text a person sees in the cell."""

from __future__ import annotations

import datetime as dt
import math


def cell_text(value: object) -> str:
    """Render one Excel cell: ``6175551234.0`` → ``"6175551234"``, dates as ISO 8601 text.

    Dates stay dates: ISO text is unambiguous, so the time fields parse it back exactly.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is float:
        return float_text(value)  # type: ignore[arg-type]
    if value is None:
        return ""
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is int:
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.microsecond == 0 else "auto")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


#: float_text of the numbers seen first: a column of codes, amounts or flags repeats a few values
#: thousands of times (a dict look-up instead of formatting). Floats only: 1.0 == True, so a cache
#: of cell_text would mix them up.
_FLOAT_TEXTS: dict[float, str] = {}
_FLOAT_TEXTS_MAX = 4096


def float_text(value: float) -> str:
    """Excel shows at most 15 significant digits and never a trailing ``.0``."""
    text = _FLOAT_TEXTS.get(value)
    if text is None:
        text = _float_text(value)
        if len(_FLOAT_TEXTS) < _FLOAT_TEXTS_MAX:
            _FLOAT_TEXTS[value] = text
    return text


def _float_text(value: float) -> str:
    if value.is_integer():
        if abs(value) < 1e15:
            return str(int(value))
    elif math.isnan(value) or math.isinf(value):
        return ""
    return format(value, ".15g")
