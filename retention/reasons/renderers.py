"""The sentence of one feature of one partner, with the partner's own numbers: one renderer per template
family (recency, window count, trend, money owed, ...), and the feature that speaks for a story.

- Features that tell the same story give one sentence (the story's strongest feature speaks): recency,
  active days and recency_to_usual_gap of activity; recency, window counts, revenue and revenue share of
  sales; recency and counts of any one event type; the activity trend and the weekly slope; everything
  about money owed to the partner. "usually every N days" (active_day_gap_mean) is said once per row.
- Days are whole days, floored ("no sales for 21 days" at 21.9 days is true; "22" would not be yet).
  The usual gap is rounded to the nearest day. Percentages have no decimals (commission rates keep one,
  "7.5%", as a manager would not round a contract term). Numbers, plurals and periods: `retention.wording`.
- The *_trend_* features are (A - B) / (A + B), not a percentage change; sentences state the real
  change of A against B, 2 * trend / (1 - trend): a trend of -0.6 is "fell 75%", not "fell 60%".
- Any value is worded as it is (a rising trend pushing risk up gets a neutral "clicks changed +20% vs
  the previous month"); only the choice of reasons (`retention.reasons.selection`) leaves such values out.

Every template is filled in through `catalogue.say`, looked up on the module at each call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from partner_churn.domain import LAST_ACTIVITY
from retention.reasons import catalogue
from retention.reasons.feature_names import PENDING_PAYOUT_AMOUNT, SURVEY_SCORE, FeatureFact, parse_feature
from retention.wording import (
    before,
    count,
    event_last,
    events_count,
    events_none,
    format_money,
    format_number,
    format_percent,
    period,
    previous,
    previous_genitive_ru,
    round_half_up,
    short_number,
    window,
)

MIN_SILENT_DAYS = 2
"""A silence shorter than this many whole days reads 'last sale 1 day ago', not 'no sales for 1 day',
and is no reason for risk."""
OWN_EVENTS = frozenset({"activity", "login", "link_created", "click", "lead", "sale"})
"""Events of the partner's own work: their silence is set against the usual gap between active days."""

Row = Mapping[str, Any]
"""One partner: feature name -> value."""


@dataclass(frozen=True)
class Rendered:
    """One feature's sentence, before the typical partner's value is added."""

    text: str
    """The sentence's own statement (a typical comparison goes right after it)."""
    covers: frozenset[str] = frozenset()
    """Stories this sentence also tells (they give no sentence of their own after it)."""
    tail: str = ""
    """A clause after the statement and its comparison: '; usually every 4 days'."""


def _say_r(lang: str, key: str, **values: Any) -> Rendered:
    return Rendered(catalogue.say(lang, key, **values))


@dataclass(frozen=True)
class RenderContext:
    """How the sentences of one row are worded."""

    lang: str
    growth: bool
    """True for upgrade_potential (rising is the expected reading), False for deactivation_risk."""
    covered: Collection[str]
    """Stories the row's earlier sentences told, which this one leaves out."""


def finite_number(row: Row, name: str) -> float | None:
    """The row's value as a finite float; None when missing, not a number or infinite."""
    value = row.get(name)
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def whole_days(days: float) -> int:
    """Days as sentences show them: whole days, floored (21.9 days are not yet 22)."""
    return math.floor(days + 1e-9)


def nearest_whole(value: float) -> int:
    """The nearest whole number, a half rounded up (counts, the usual gap in days)."""
    return int(round_half_up(value))


def usual_gap_days(row: Row) -> int | None:
    """The partner's usual gap between active days in whole days (at least 1); None when unknown."""
    gap = finite_number(row, "active_day_gap_mean")
    if gap is None or gap <= 0:
        return None
    return max(1, nearest_whole(gap))


def _ago(days: float, lang: str) -> str:
    """'2 days ago' / '2 дня назад'; 'less than a day ago' under one whole day."""
    whole = whole_days(days)
    return catalogue.say(lang, "ago_recent") if whole < 1 else catalogue.say(lang, "ago", days=count(whole, "day", lang))


def _recency(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    lang, event_type = c.lang, fact.subject
    days = whole_days(value)
    last = event_last(event_type, lang)
    if days < 1:
        return Rendered(catalogue.say(lang, "last_event_recent", last=last))
    if c.growth or days < MIN_SILENT_DAYS:
        return Rendered(catalogue.say(lang, "last_event_ago", last=last, days=count(days, "day", lang)))
    text = catalogue.say(lang, "no_event_for", none=events_none(event_type, lang), days=count(days, "day", lang))
    gap = usual_gap_days(row)
    if gap is None or "gap_mean" in c.covered or days <= gap or event_type not in OWN_EVENTS:
        return Rendered(text)
    active = "" if event_type == "activity" else "active_"
    clause = (
        catalogue.say(lang, f"usually_{active}daily") if gap == 1 else catalogue.say(lang, f"usually_{active}every", days=count(gap, "day", lang))
    )
    return Rendered(text, frozenset({"gap_mean"}), f"; {clause}")


def _recency_ratio(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    """Only when the silence in days is unknown (else the activity recency speaks, see `speaking_feature`)."""
    if value <= 0:
        return None
    if float(round_half_up(value, 1)) <= 1:
        return _say_r(c.lang, "silent_as_usual") if value >= 0.95 else _say_r(c.lang, "silent_share_usual", share=format_percent(value * 100, c.lang))
    times = count(value, "time", c.lang, decimals=0 if value >= 10 else 1)
    return _say_r(c.lang, "silent_times_usual", times=times)


def _window_count(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    n = nearest_whole(value)
    if n < 0:
        return None
    span = window(fact.window, c.lang)
    if n == 0:
        return _say_r(c.lang, "none_in_window", none=events_none(fact.subject, c.lang), window=span)
    return _say_r(c.lang, "count_in_window", count=events_count(n, fact.subject, c.lang), window=span)


def _revenue(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "no_revenue_in_window", window=span)
    return _say_r(c.lang, "revenue_in_window", money=format_money(value, c.lang), window=span)


def _payout_amount(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "none_paid_in_window", window=span)
    return _say_r(c.lang, "paid_in_window", money=format_money(value, c.lang), window=span)


def _revenue_share(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "no_revenue_in_window", window=span)
    return _say_r(c.lang, "share_in_window", percent=format_percent(value * 100, c.lang), window=span)


def _active_days(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    n, w, lang = nearest_whole(value), fact.window, c.lang
    if n < 0:
        return None
    if n == 0:
        return _say_r(lang, "active_none", w=count(w, "day", lang) if lang == "ru" else w)
    days = count(n, "day", lang) if lang == "ru" else format_number(n, lang)
    key = "active_only" if not c.growth and n < w / 2 else "active_of"
    return _say_r(lang, key, n=days, w=w)


def trend_change(value: float) -> tuple[float, float]:
    """(tau clipped to [-1, 1], the real change of the last period against the one before, in percent)."""
    tau = min(1.0, max(-1.0, value))
    if tau >= 1 - 1e-9:
        return 1.0, math.inf
    return tau, 200.0 * tau / (1.0 - tau)


def _trend(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    lang, days = c.lang, fact.window
    words = catalogue.TREND_SUBJECTS[fact.subject][lang]
    tau, change = trend_change(value)
    if tau >= 1:
        return _say_r(lang, "trend_from_zero", **words, window=window(days, lang), before=before(days, lang))
    if tau <= -1 + 1e-9:
        return _say_r(lang, "trend_to_zero", **words, window=window(days, lang), before=before(days, lang))
    since = previous(days, lang)
    if abs(change) < 0.5:
        recent = _trend_recent_total(fact, row)
        if tau == 0 and recent == 0:
            return _say_r(lang, "trend_none_both", **words, window=window(2 * days, lang))
        flat = previous_genitive_ru(days) if lang == "ru" else ""
        return _say_r(lang, "trend_flat", **words, previous=since, flat=flat)
    if (change > 0) != c.growth:
        return _say_r(lang, "trend_changed", **words, percent=format_percent(change, lang, signed=True), previous=since)
    if change < 0:
        return _say_r(lang, "trend_down", **words, percent=format_percent(min(99.0, -change), lang), previous=since)
    ratio = (1.0 + tau) / (1.0 - tau)
    if ratio >= 3:
        decimals = 0 if ratio >= 10 else 1
        times = count(ratio, "time", lang, decimals=decimals) if lang == "ru" else short_number(ratio, lang, decimals)
        return _say_r(lang, "trend_up_times", **words, times=times, previous=since)
    return _say_r(lang, "trend_up", **words, percent=format_percent(change, lang), previous=since)


def _trend_recent_total(fact: FeatureFact, row: Row) -> float | None:
    """The last period's total behind a trend (0 or more), when the row tells it; None when it does not."""
    total = {"click": f"click_count_{fact.window}d", "revenue": f"revenue_{fact.window}d"}.get(fact.subject)
    if total and (value := finite_number(row, total)) is not None:
        return value
    silent = finite_number(row, f"days_since_last_{fact.subject}") if fact.subject in ("activity", "click") else None
    if silent is not None and silent >= fact.window:
        return 0.0
    return None


def signed_slope(slope: float, lang: str) -> str:
    """A weekly slope with its sign, one decimal: +0.3, -0.3."""
    return ("+" if slope > 0 else "-") + format_number(abs(slope), lang, decimals=1)


def _slope(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    lang = c.lang
    weeks = period("last", fact.window, "week", lang)
    slope = float(round_half_up(value, 1))
    if abs(slope) < 0.1:
        return _say_r(lang, "slope_flat", weeks=weeks)
    if (slope > 0) != c.growth:
        return _say_r(lang, "slope_changed", weeks=weeks, slope=signed_slope(slope, lang))
    return _say_r(lang, "slope_up" if slope > 0 else "slope_down", weeks=weeks, slope=format_number(abs(slope), lang, decimals=1))


def _gap_mean(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value <= 0:
        return None
    gap = max(1, nearest_whole(value))
    if gap == 1:
        return _say_r(c.lang, "gap_mean_daily")
    return _say_r(c.lang, "gap_mean", days=count(gap, "day", c.lang))


def _gap_std(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    spread = nearest_whole(value)
    mean = finite_number(row, "active_day_gap_mean")
    irregular = None if mean is None else value >= mean
    if spread < 1:
        return _say_r(c.lang, "gap_std_barely")
    days = count(spread, "day", c.lang)
    if irregular is True and not c.growth:
        return _say_r(c.lang, "gap_std_irregular", days=days)
    if irregular is False and c.growth:
        return _say_r(c.lang, "gap_std_steady", days=days)
    return _say_r(c.lang, "gap_std", days=days)


def _funnel(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    return _say_r(c.lang, f"funnel_{fact.subject}", percent=format_percent(value * 100, c.lang), window=window(fact.window, c.lang))


def _pending_amount(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    """'unpaid commission 12,400 for 45 days': requested payouts not paid yet, and the last request's age."""
    if value <= 0:
        return None
    money = format_money(value, c.lang)
    since = finite_number(row, "days_since_last_payout_request")
    covers = frozenset({"money_owed"})
    if since is None or whole_days(since) < 1:
        return Rendered(catalogue.say(c.lang, "owed", money=money), covers)
    days = count(whole_days(since), "day", c.lang)
    return Rendered(catalogue.say(c.lang, "owed_for", money=money, days=days), covers | {"event:payout_requested"})


def _pending_requests(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    """Payout requests not paid, when no amount owed is known (else the amount speaks, see `speaking_feature`)."""
    n = nearest_whole(value)
    if n <= 0:
        return None
    requests = count(n, "request", c.lang)
    since = finite_number(row, "days_since_last_payout_request")
    if since is None:
        return _say_r(c.lang, "owed_requests", requests=requests, n=format_number(n, c.lang))
    text = catalogue.say(c.lang, "owed_requests_last", requests=requests, n=format_number(n, c.lang), ago=_ago(since, c.lang))
    return Rendered(text, frozenset({"event:payout_requested"}))


def _unpaid_commission(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value <= 0:
        return None
    return _say_r(c.lang, "unpaid_commission", money=format_money(value, c.lang))


def _survey(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    """'gave 3 of 10 in the last survey (12 days ago); 8 the time before'."""
    age = finite_number(row, "days_since_last_survey")
    if value < 0 or age is None or age < 0:
        return None
    change = finite_number(row, "survey_score_change")
    before = catalogue.say(c.lang, "survey_before", score=_score(value - change, c.lang)) if change is not None else ""
    return Rendered(catalogue.say(c.lang, "survey_last", score=_score(value, c.lang), ago=_ago(age, c.lang)), tail=before)


def _score(value: float, lang: str) -> str:
    """A survey answer as the survey gave it: 3, or 7.5 where the tool allows halves."""
    return format_number(value, lang) if float(value).is_integer() else format_number(value, lang, decimals=1)


def _tenure(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    if value < 1:
        return _say_r(c.lang, "tenure_new")
    if value < 90:
        duration = count(whole_days(value), "day", c.lang)
    elif value < 730:
        duration = count(math.floor(value / 30.4375), "month", c.lang)
    else:
        duration = count(math.floor(value / 365.25), "year", c.lang)
    return _say_r(c.lang, "tenure", duration=duration)


def _onboarding(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    n = nearest_whole(value)
    if n < 0:
        return None
    tenure = finite_number(row, "tenure_days")
    actions = count(n, "action", c.lang)
    if tenure is not None and tenure * 24 < fact.window:  # still inside the onboarding window: say how long since sign-up
        ago = _ago(tenure, c.lang)
        return _say_r(c.lang, "onboarding_young_none" if n == 0 else "onboarding_young", actions=actions, ago=ago)
    hours = period("first", fact.window, "hour", c.lang)
    return _say_r(c.lang, "onboarding_none" if n == 0 else "onboarding", actions=actions, hours=hours)


def _first_event(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    first = catalogue.FIRST_EVENT_WORDS[fact.subject][c.lang]
    days = whole_days(value)
    if days < 1:
        return _say_r(c.lang, "first_event_same_day", first=first)
    return _say_r(c.lang, "first_event", first=first, days=count(days, "day", c.lang))


def _text_value(value: Any, lang: str) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            return None
        return format_number(number, lang) if number.is_integer() else format_number(number, lang, decimals=2)
    text = str(value).strip()
    return text or None


def _commission_rate(fact: FeatureFact, value: float, row: Row, c: RenderContext) -> Rendered | None:
    if value < 0:
        return None
    return _say_r(c.lang, "commission_rate", percent=format_percent(value * 100, c.lang, decimals=1))


_NUMERIC_RENDERERS: dict[str, Callable[[FeatureFact, float, Row, RenderContext], Rendered | None]] = {
    "recency": _recency,
    "recency_ratio": _recency_ratio,
    "count": _window_count,
    "revenue": _revenue,
    "payout_amount": _payout_amount,
    "revenue_share": _revenue_share,
    "active_days": _active_days,
    "trend": _trend,
    "slope": _slope,
    "gap_mean": _gap_mean,
    "gap_std": _gap_std,
    "funnel": _funnel,
    "pending_amount": _pending_amount,
    "pending_requests": _pending_requests,
    "unpaid_commission": _unpaid_commission,
    "survey": _survey,
    "tenure": _tenure,
    "onboarding": _onboarding,
    "first_event": _first_event,
    "commission_rate": _commission_rate,
}
_TEXT_FAMILIES = ("partner_type", "country")


def render(name: str, fact: FeatureFact | None, row: Row, c: RenderContext) -> Rendered | None:
    """The sentence of one feature (already resolved to its speaker), None when its value says nothing."""
    if fact is None or fact.family in _TEXT_FAMILIES:
        value = _text_value(row.get(name), c.lang)
        if value is None:
            return None
        if fact is None:
            return _say_r(c.lang, "attribute", name=name, value=value)
        return _say_r(c.lang, fact.family, value=value)
    number = finite_number(row, name)
    if number is None:
        return None
    return _NUMERIC_RENDERERS[fact.family](fact, number, row, c)


def speaking_feature(name: str, fact: FeatureFact | None, row: Row) -> tuple[str, FeatureFact | None]:
    """The feature whose sentence tells this feature's story for this row: the silence in days for
    recency_to_usual_gap, the amount owed for the payout requests and their age while money is owed."""
    if fact is None:
        return name, fact
    if fact.family == "recency_ratio" and finite_number(row, LAST_ACTIVITY) is not None:
        return LAST_ACTIVITY, parse_feature(LAST_ACTIVITY)
    owed_story = fact.family == "pending_requests" or (fact.family == "recency" and fact.subject == "payout_requested")
    if owed_story and (finite_number(row, PENDING_PAYOUT_AMOUNT) or 0.0) > 0:
        return PENDING_PAYOUT_AMOUNT, parse_feature(PENDING_PAYOUT_AMOUNT)
    if fact.story == "survey":
        return SURVEY_SCORE, parse_feature(SURVEY_SCORE)
    return name, fact
