"""The typical partner of a segment: its value of a feature, whether a partner's value lies beyond the
typical range on the side that explains the score, and the words "(typical: 25)" after a sentence.

The typical range is the segment's interquartile range over the training rows when the model kept
quartiles (the `training.model.LOWER_QUARTILE_PREFIX` and `UPPER_QUARTILE_PREFIX` groups of
`TrainedModel.typical`, stored by every model trained since they were added); a value must then lie
strictly past the quartile as the sentence shows it (whole days and counts: "3 logins" at a quartile
of 3.4 is not past it). Models saved with medians only (before quartiles were kept) get the median band: at
least TYPICAL_FACTOR times the median (a silence, a gap, money owed) or at most 1 / TYPICAL_FACTOR of
it (a count, revenue, active days, a conversion), days and counts also MIN_UNITS_FROM_TYPICAL whole
units from it; a trend at most half (or twice) both flat and the median partner's; a weekly slope
MIN_SLOPE_GAP below (above) both flat and the median's. Twice or half the median sits near the
quartiles of these skewed quantities (demo program: silences and gaps p75/p50 mostly 2-3, counts
p25/p50 0.5-0.75), but a median cannot tell how common zero is: in segments where a quarter of partners has
no clicks in a week, "no clicks in the last 7 days" passes the band and not the quartiles. The
sentence shows the median, "(typical: 25)", the segment's 'all' group when the segment has no rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from retention.reasons import catalogue
from retention.reasons.feature_names import FeatureFact
from retention.reasons.renderers import Rendered, Row, nearest_whole, signed_slope, trend_change, whole_days
from retention.wording import count, format_money, format_number, format_percent, round_half_up
from training.model import LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX

TYPICAL_FACTOR = 2.0
"""A driver's value is beyond the typical range when it is at least this many times the segment's
typical value, or at most its 1 / TYPICAL_FACTOR (see the module docstring)."""
MIN_UNITS_FROM_TYPICAL = 2
"""Days and counts must also be this many whole days or events from the typical value as the sentence
shows them: 'no logins in the last 7 days' next to a typical 1 is no news."""
MIN_SLOPE_GAP = 0.1
"""Active days a week per week: a weekly slope this far below flat and below the typical partner's is a
fall worth a reason (0.1 a week over 12 weeks is about one active day a week less)."""

Typical = Mapping[str, Mapping[str, float]]
"""Group -> feature -> value, as `TrainedModel.typical` holds them: a segment (or 'all') -> its median;
'p25:<group>' and 'p75:<group>' -> its quartiles, when the model kept them."""


@dataclass(frozen=True)
class FamilyReading:
    """How the values of one template family are read against the typical partner."""

    risk_side: int
    """+1: a higher value explains risk (a longer silence); -1: a lower one (fewer sales); 0: never a reason."""
    scale: str
    """How a distance from typical is judged and shown: 'days' (whole days, floored), 'gap' (days,
    rounded), 'count', 'amount' (money, shares, ratios: no unit floor), 'trend', 'slope', '' (none)."""


FAMILY_READINGS: dict[str, FamilyReading] = {
    "recency": FamilyReading(+1, "days"),
    "recency_ratio": FamilyReading(+1, "amount"),
    "count": FamilyReading(-1, "count"),
    "revenue": FamilyReading(-1, "amount"),
    "payout_amount": FamilyReading(-1, "amount"),
    "revenue_share": FamilyReading(-1, "amount"),
    "active_days": FamilyReading(-1, "count"),
    "trend": FamilyReading(-1, "trend"),
    "slope": FamilyReading(-1, "slope"),
    "gap_mean": FamilyReading(+1, "gap"),
    "gap_std": FamilyReading(+1, "gap"),
    "funnel": FamilyReading(-1, "amount"),
    "pending_amount": FamilyReading(+1, "amount"),
    "pending_requests": FamilyReading(+1, "count"),
    "unpaid_commission": FamilyReading(+1, "amount"),
    "survey": FamilyReading(-1, "count"),
    "survey_change": FamilyReading(-1, "count"),
    "onboarding": FamilyReading(-1, "count"),
    "first_event": FamilyReading(+1, "days"),
    "commission_rate": FamilyReading(-1, "amount"),
    "tenure": FamilyReading(0, ""),
    "partner_type": FamilyReading(0, ""),
    "country": FamilyReading(0, ""),
}
"""Template family -> how its values read."""
NEVER_A_REASON = FamilyReading(0, "")
"""The reading of a family not listed: never a reason."""


@dataclass(frozen=True)
class TypicalValue:
    """The typical partner of a segment for one feature: its median, and its quartiles when the model kept them."""

    median: float
    low: float | None = None
    high: float | None = None


def typical_value(name: str, row: Row, typical: Typical | None) -> TypicalValue | None:
    """The feature's typical value for this row's segment (the 'all' group when the segment has none)."""
    if not typical:
        return None
    segment = str(row.get("segment"))
    group = segment if name in typical.get(segment, {}) else "all"
    median = typical.get(group, {}).get(name)
    if median is None or not math.isfinite(median):
        return None
    low, high = (typical.get(prefix + group, {}).get(name) for prefix in (LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX))
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return TypicalValue(float(median))
    return TypicalValue(float(median), float(low), float(high))


def typical_median(name: str, row: Row, typical: Typical | None) -> float | None:
    """The median of the feature's typical value for this row's segment, None when unknown."""
    found = typical_value(name, row, typical)
    return found.median if found else None


def _shown(scale: str, value: float) -> int:
    """The whole number a sentence shows for a value of this scale."""
    return whole_days(value) if scale == "days" else nearest_whole(value)


def _trend_ratio(tau: float) -> float:
    """The last period over the one before, from (A - B) / (A + B): 0 for a stop, inf for a start."""
    tau = min(1.0, max(-1.0, tau))
    return math.inf if tau >= 1 else (1.0 + tau) / (1.0 - tau)


def beyond_typical(reading: FamilyReading, side: int, value: float, usual: TypicalValue) -> bool:
    """True when the value lies past the segment's typical range on the side `side` (+1 above, -1 below):
    past the quartile when the model kept quartiles, else past the median band (see the module docstring)."""
    whole = reading.scale in ("days", "gap", "count")
    if usual.low is not None and usual.high is not None:
        bound = usual.high if side > 0 else usual.low
        shown, limit = (_shown(reading.scale, value), _shown(reading.scale, bound)) if whole else (value, bound)
        return shown > limit if side > 0 else shown < limit
    median = usual.median
    if reading.scale == "trend":
        ratio, typical_ratio = _trend_ratio(value), _trend_ratio(median)
        return ratio <= min(1.0, typical_ratio) / TYPICAL_FACTOR if side < 0 else ratio >= TYPICAL_FACTOR * max(1.0, typical_ratio)
    if reading.scale == "slope":
        return value <= min(0.0, median) - MIN_SLOPE_GAP if side < 0 else value >= max(0.0, median) + MIN_SLOPE_GAP
    far = value >= TYPICAL_FACTOR * median and value > median if side > 0 else value <= median / TYPICAL_FACTOR and value < median
    if far and whole:
        far = abs(_shown(reading.scale, value) - _shown(reading.scale, median)) >= MIN_UNITS_FROM_TYPICAL
    return far


def _typical_words(fact: FeatureFact, median: float, lang: str) -> str | None:
    """The typical value as the sentence's own number is shown ('3 days', '25', '1,200', '12%', '+6%'),
    None when it cannot be put that way (a typical trend from or to nothing)."""
    family = fact.family
    scale = FAMILY_READINGS.get(family, NEVER_A_REASON).scale
    if scale in ("days", "gap"):
        days = whole_days(median) if scale == "days" else nearest_whole(median)
        return catalogue.say(lang, "typical_under_a_day") if days < 1 else count(days, "day", lang)
    if scale == "trend":
        tau, change = trend_change(median)
        if abs(tau) >= 1 - 1e-9:
            return None
        return catalogue.say(lang, "typical_flat") if abs(change) < 0.5 else format_percent(change, lang, signed=True)
    if scale == "slope":
        slope = float(round_half_up(median, 1))
        return catalogue.say(lang, "typical_flat") if abs(slope) < 0.1 else catalogue.say(lang, "typical_slope", slope=signed_slope(slope, lang))
    if family in ("revenue_share", "funnel", "commission_rate"):
        return format_percent(median * 100, lang, decimals=1 if family == "commission_rate" else 0)
    if family == "recency_ratio":
        return count(median, "time", lang, decimals=1)
    if median < 0.5:
        return catalogue.say(lang, "typical_none")
    if family in ("revenue", "payout_amount", "pending_amount", "unpaid_commission"):
        return format_money(median, lang)
    return format_number(median, lang)


def sentence_with_typical(rendered: Rendered, fact: FeatureFact | None, median: float | None, lang: str) -> str:
    """Statement, then the typical partner's value, then the partner's own usual rhythm."""
    words = None if median is None or fact is None else _typical_words(fact, median, lang)
    comparison = "" if words is None else " " + catalogue.say(lang, "typical", value=words)
    return f"{rendered.text}{comparison}{rendered.tail}"
