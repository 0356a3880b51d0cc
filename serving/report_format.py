"""How the manager's pages write figures: numbers, signed numbers, intervals, percentages and dates in the
report language (by `retention.wording`, the reasons' own formatter), and the shape of what a template reads."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from retention.wording import format_date, format_number, format_percent, format_signed

View = dict[str, Any]
"""What the template reads of a section, a row or a chart: texts and figures already in the report language."""


class ReportFormatter:
    """Numbers, percentages and dates in the report language, by `retention.wording` (the reasons' own
    formatter): 12,345.6 and 12.3% / 12 345,6 and 12,3 %; a missing figure is a dash, a negative one has a
    true minus sign."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def decimal(self, value: object, digits: int = 0) -> str:
        x = as_float(value)
        if math.isnan(x):
            return "—"
        text = format_number(abs(x), self.lang, decimals=digits)
        return ("\u2212" if x < 0 and text.strip("0,.\u00a0") else "") + text

    def number(self, value: object, digits: int = 0) -> str:
        return self.decimal(value, digits)

    def signed_number(self, value: object, digits: int = 0) -> str:
        x = as_float(value)
        return "—" if math.isnan(x) else format_signed(x, self.lang, decimals=digits)

    def interval(self, low: object, high: object, digits: int = 0) -> str:
        """An interval of signed figures: [−1.5, +2.0]; [−1,5; +2,0] in Russian (its decimal comma)."""
        separator = "; " if self.lang == "ru" else ", "
        return f"[{self.signed_number(low, digits)}{separator}{self.signed_number(high, digits)}]"

    def percent(self, value: object, digits: int = 1) -> str:
        x = as_float(value)
        return "—" if math.isnan(x) else ("\u2212" if x < 0 else "") + format_percent(100 * abs(x), self.lang, decimals=digits)

    def signed_percent(self, value: object) -> str:
        x = as_float(value)
        return "—" if math.isnan(x) else ("+" if x > 0 else "\u2212" if x < 0 else "") + self.percent(abs(x))

    def date(self, stamp: object) -> str:
        return format_date(stamp, self.lang)

    def datetime(self, stamp: pd.Timestamp) -> str:
        return f"{self.date(stamp)} {stamp:%H:%M}"


def as_float(value: object) -> float:
    """A value as a float; NaN for anything that is not a number."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return x
