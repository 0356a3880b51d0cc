"""Reasons in words: why a partner is at risk (or may grow), from its own TreeSHAP contributions.

`reasons_for(model, rows)` computes the model's per-feature contributions once for the rows given
(TreeSHAP costs ~1.9 ms a row, so callers pass only the rows whose reasons are shown), takes for each
row the features that push the score *up* the most, keeps those a manager can act on, and words each
with the partner's own number and the typical partner's, in English or Russian. For
deactivation_risk those are why the partner is at risk; for upgrade_potential, why it may grow.

What is worth a reason slot (a driver that is not is passed over, and the next one speaks; fewer than
k drivers worth a slot give fewer than k reasons, never filler):
- its contribution pushes the score up (above MIN_CONTRIBUTION);
- its value says what the contribution says: for risk a silence of at least MIN_SILENT_DAYS and longer
  than the partner's own usual gap between active days, a fall of a trend or of the weekly slope,
  active on fewer than half of the window's days; for potential the other way round. A rise is never a
  reason for risk, a fall never one to grow, money owed to a partner never a reason to grow;
- its value lies beyond the typical range of the partner's segment, on the side that explains the
  score. The typical range is the segment's interquartile range over the training rows when the model
  kept quartiles (the `training.model.LOWER_QUARTILE_PREFIX` and `UPPER_QUARTILE_PREFIX` groups of
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
  sentence shows the median, "(typical: 25)", the segment's 'all' group when the segment has no rows;
- it is something an action can change: tenure, partner type, country and other declared attributes
  are not reasons (a commission rate is: the terms can change); the onboarding count and the days to the
  first link, lead or sale are reasons only during the first EARLY_HISTORY_DAYS days in the program,
  after which they are a constant of the partner's past. Tenure is said only inside the onboarding
  sentence of a partner still in its onboarding window ("no activity since sign-up (2 days ago)").
Without a typical value (a model saved before medians were kept, or hand-made calls) only the
direction rules apply.

Wording:
- Features that tell the same story give one sentence (the story's strongest feature speaks): recency,
  active days and recency_to_usual_gap of activity; recency, window counts, revenue and revenue share of
  sales; recency and counts of any one event type; the activity trend and the weekly slope; everything
  about money owed to the partner. "usually every N days" (active_day_gap_mean) is said once per row.
- Days are whole days, floored ("no sales for 21 days" at 21.9 days is true; "22" would not be yet).
  The usual gap is rounded to the nearest day. Percentages have no decimals (commission rates keep one,
  "7.5%", as a manager would not round a contract term). Numbers, plurals and periods: `retention.wording`.
- The *_trend_* features are (A - B) / (A + B), not a percentage change; sentences state the real
  change of A against B, 2 * trend / (1 - trend): a trend of -0.6 is "fell 75%", not "fell 60%".
- `describe_feature` words any value as it is (a rising trend pushing risk up gets a neutral "clicks
  changed +20% vs the previous month"); only the choice of reasons leaves such values out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.schema import FIRST_EVENT_TYPES, RECENCY_TYPES
from partner_churn.config import Config
from partner_churn.domain import ACTIVE_DAYS_30, LAST_ACTIVITY, segment_revenue_feature
from retention.wording import (
    RU_GROUP_SEPARATOR,
    before,
    check_lang,
    count,
    event_last,
    events_count,
    events_none,
    format_money,
    format_number,
    format_percent,
    period,
    plural_ru,
    previous,
    previous_genitive_ru,
    round_half_up,
    short_number,
    window,
)
from training.model import LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX, Rows, TrainedModel

__all__ = [
    "EARLY_HISTORY_DAYS", "LOWER_QUARTILE_PREFIX", "MIN_CONTRIBUTION", "MIN_SILENT_DAYS", "MIN_SLOPE_GAP", "MIN_UNITS_FROM_TYPICAL", "OWN_EVENTS",
    "RU_GROUP_SEPARATOR", "TYPICAL_FACTOR", "UPPER_QUARTILE_PREFIX", "as_records", "describe_feature", "fact_features", "facts_for", "format_money",
    "format_number", "format_percent", "has_template", "plural_ru", "reasons_for", "reasons_from_contributions", "template_family",
]
# format_*, plural_ru and RU_GROUP_SEPARATOR live in retention.wording, the quartile prefixes in training.model (training
# stores the groups); they are named here too for callers of this module.

MIN_CONTRIBUTION = 1e-6
"""Contributions (log-odds) at or below this are not a reason: float noise, not the model's view."""
MIN_SILENT_DAYS = 2
"""A silence shorter than this many whole days reads 'last sale 1 day ago', not 'no sales for 1 day',
and is no reason for risk."""
OWN_EVENTS = frozenset({"activity", "login", "link_created", "click", "lead", "sale"})
"""Events of the partner's own work: their silence is set against the usual gap between active days."""
TYPICAL_FACTOR = 2.0
"""A driver's value is beyond the typical range when it is at least this many times the segment's
typical value, or at most its 1 / TYPICAL_FACTOR (see the module docstring)."""
MIN_UNITS_FROM_TYPICAL = 2
"""Days and counts must also be this many whole days or events from the typical value as the sentence
shows them: 'no logins in the last 7 days' next to a typical 1 is no news."""
MIN_SLOPE_GAP = 0.1
"""Active days a week per week: a weekly slope this far below flat and below the typical partner's is a
fall worth a reason (0.1 a week over 12 weeks is about one active day a week less)."""
EARLY_HISTORY_DAYS = 30
"""Onboarding and first-event facts are reasons during the partner's first this many days; later they
describe a past no action changes."""

Row = Mapping[str, Any]
Typical = Mapping[str, Mapping[str, float]]
"""Group -> feature -> value, as `TrainedModel.typical` holds them: a segment (or 'all') -> its median;
'p25:<group>' and 'p75:<group>' -> its quartiles, when the model kept them."""


# -- sentence templates ---------------------------------------------------------------------------------
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "no_event_for": "{none} for {days}",
        "last_event_ago": "{last} {days} ago",
        "last_event_recent": "{last} less than a day ago",
        "usually_every": "usually every {days}",
        "usually_daily": "usually every day",
        "usually_active_every": "usually active every {days}",
        "usually_active_daily": "usually active every day",
        "silent_times_usual": "silent {times} longer than the usual gap between active days",
        "silent_as_usual": "silent about as long as the usual gap between active days",
        "silent_share_usual": "silent for {share} of the usual gap between active days",
        "count_in_window": "{count} in {window}",
        "none_in_window": "{none} in {window}",
        "revenue_in_window": "revenue {money} in {window}",
        "no_revenue_in_window": "no revenue in {window}",
        "paid_in_window": "{money} paid out in {window}",
        "none_paid_in_window": "nothing paid out in {window}",
        "share_in_window": "{percent} of the program's revenue in {window}",
        "active_only": "active on only {n} of the last {w} days",
        "active_of": "active on {n} of the last {w} days",
        "active_none": "not active on any of the last {w} days",
        "trend_down": "{subject} fell {percent} {previous}",
        "trend_up": "{subject} up {percent} {previous}",
        "trend_up_times": "{subject} up {times}x {previous}",
        "trend_changed": "{subject} changed {percent} {previous}",
        "trend_flat": "{subject} flat {previous}",
        "trend_none_both": "no {subject} in {window}",
        "trend_from_zero": "{subject} started in {window}, none {before}",
        "trend_to_zero": "no {subject} in {window}; there {were} some {before}",
        "slope_down": "active days per week falling by {slope} a week over {weeks}",
        "slope_up": "active days per week rising by {slope} a week over {weeks}",
        "slope_changed": "active days per week over {weeks}: trend {slope} a week",
        "slope_flat": "active days per week flat over {weeks}",
        "gap_mean": "active every {days} on average",
        "gap_mean_daily": "active every day on average",
        "gap_std_irregular": "irregular activity: gaps between active days vary by about {days}",
        "gap_std_steady": "steady activity: gaps between active days vary by about {days}",
        "gap_std": "gaps between active days vary by about {days}",
        "gap_std_barely": "gaps between active days barely vary",
        "funnel_lead_per_click": "click-to-lead conversion {percent} in {window}",
        "funnel_sale_per_lead": "lead-to-sale conversion {percent} in {window}",
        "owed_for": "unpaid commission {money} for {days}",
        "owed": "unpaid commission {money}",
        "owed_requests": "{requests} unpaid",
        "owed_requests_last": "{requests} unpaid (the last one {ago})",
        "unpaid_commission": "commission earned but not paid out: {money}",
        "tenure": "in the program for {duration}",
        "tenure_new": "joined less than a day ago",
        "onboarding": "{actions} in {hours} after sign-up",
        "onboarding_none": "no activity in {hours} after sign-up",
        "onboarding_young": "{actions} since sign-up ({ago})",
        "onboarding_young_none": "no activity since sign-up ({ago})",
        "first_event": "{first} {days} after sign-up",
        "first_event_same_day": "{first} within a day of sign-up",
        "partner_type": "partner type: {value}",
        "country": "country: {value}",
        "commission_rate": "commission rate {percent}",
        "attribute": "{name}: {value}",
        "ago": "{days} ago",
        "ago_recent": "less than a day ago",
        "typical": "(typical: {value})",
        "typical_none": "none",
        "typical_flat": "flat",
        "typical_slope": "{slope} a week",
        "typical_under_a_day": "under a day",
    },
    "ru": {
        "no_event_for": "{none} {days}",
        "last_event_ago": "{last} {days} назад",
        "last_event_recent": "{last} меньше суток назад",
        "usually_every": "обычно — раз в {days}",
        "usually_daily": "обычно — каждый день",
        "usually_active_every": "обычно активен раз в {days}",
        "usually_active_daily": "обычно активен каждый день",
        "silent_times_usual": "пауза в {times} дольше обычного перерыва между активными днями",
        "silent_as_usual": "пауза примерно равна обычному перерыву между активными днями",
        "silent_share_usual": "пауза — {share} обычного перерыва между активными днями",
        "count_in_window": "{count} за {window}",
        "none_in_window": "{none} за {window}",
        "revenue_in_window": "выручка {money} за {window}",
        "no_revenue_in_window": "нет выручки за {window}",
        "paid_in_window": "выплачено {money} за {window}",
        "none_paid_in_window": "ничего не выплачено за {window}",
        "share_in_window": "{percent} выручки программы за {window}",
        "active_only": "активен всего {n} из последних {w}",
        "active_of": "активен {n} из последних {w}",
        "active_none": "ни одного активного дня за последние {w}",
        "trend_down": "{subject} {fell} на {percent} {previous}",
        "trend_up": "{subject} {rose} на {percent} {previous}",
        "trend_up_times": "{subject} {rose} в {times} {previous}",
        "trend_changed": "{subject} {changed} на {percent} {previous}",
        "trend_flat": "{subject} на уровне {flat}",
        "trend_none_both": "нет {genitive} за {window}",
        "trend_from_zero": "{subject} {appeared}, а {before} {pronoun} не было",
        "trend_to_zero": "нет {genitive} за {window}, а {before} {were}",
        "slope_down": "число активных дней в неделю падает на {slope} в неделю за {weeks}",
        "slope_up": "число активных дней в неделю растёт на {slope} в неделю за {weeks}",
        "slope_changed": "активные дни в неделю за {weeks}: тренд {slope} в неделю",
        "slope_flat": "число активных дней в неделю не менялось за {weeks}",
        "gap_mean": "в среднем активен раз в {days}",
        "gap_mean_daily": "в среднем активен каждый день",
        "gap_std_irregular": "нерегулярная активность: перерывы между активными днями колеблются примерно на {days}",
        "gap_std_steady": "ровный ритм: перерывы между активными днями колеблются примерно на {days}",
        "gap_std": "перерывы между активными днями колеблются примерно на {days}",
        "gap_std_barely": "перерывы между активными днями почти не меняются",
        "funnel_lead_per_click": "конверсия из клика в лид {percent} за {window}",
        "funnel_sale_per_lead": "конверсия из лида в продажу {percent} за {window}",
        "owed_for": "невыплаченная комиссия {money} уже {days}",
        "owed": "невыплаченная комиссия {money}",
        "owed_requests": "неоплаченных запросов выплаты: {n}",
        "owed_requests_last": "неоплаченных запросов выплаты: {n} (последний — {ago})",
        "unpaid_commission": "заработанная, но не выплаченная комиссия: {money}",
        "tenure": "в программе {duration}",
        "tenure_new": "в программе меньше суток",
        "onboarding": "{actions} за {hours} после регистрации",
        "onboarding_none": "ни одного действия за {hours} после регистрации",
        "onboarding_young": "{actions} с момента регистрации ({ago})",
        "onboarding_young_none": "ни одного действия с момента регистрации ({ago})",
        "first_event": "{first} через {days} после регистрации",
        "first_event_same_day": "{first} — в первые сутки после регистрации",
        "partner_type": "тип партнёра: {value}",
        "country": "страна: {value}",
        "commission_rate": "ставка комиссии {percent}",
        "attribute": "{name}: {value}",
        "ago": "{days} назад",
        "ago_recent": "меньше суток назад",
        "typical": "(типично: {value})",
        "typical_none": "нет",
        "typical_flat": "без изменений",
        "typical_slope": "{slope} в неделю",
        "typical_under_a_day": "меньше суток",
    },
}

_TREND_SUBJECTS: dict[str, dict[str, dict[str, str]]] = {
    "activity": {
        "en": {"subject": "activity", "were": "was"},
        "ru": {"subject": "активность", "genitive": "активности", "fell": "упала", "rose": "выросла", "changed": "изменилась",
               "appeared": "появилась", "pronoun": "её", "were": "была"},
    },
    "click": {
        "en": {"subject": "clicks", "were": "were"},
        "ru": {"subject": "клики", "genitive": "кликов", "fell": "упали", "rose": "выросли", "changed": "изменились",
               "appeared": "появились", "pronoun": "их", "were": "были"},
    },
    "revenue": {
        "en": {"subject": "revenue", "were": "was"},
        "ru": {"subject": "выручка", "genitive": "выручки", "fell": "упала", "rose": "выросла", "changed": "изменилась",
               "appeared": "появилась", "pronoun": "её", "were": "была"},
    },
}
_FIRST_EVENT_WORDS: dict[str, dict[str, str]] = {
    "link": {"en": "first link", "ru": "первая ссылка"},
    "lead": {"en": "first lead", "ru": "первый лид"},
    "sale": {"en": "first sale", "ru": "первая продажа"},
}


def _say(lang: str, key: str, **values: Any) -> str:
    return _TEXT[lang][key].format(**values)


# -- which template a feature uses -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Fact:
    family: str
    """Template family."""
    story: str
    """Features with the same story give one sentence."""
    subject: str = ""
    window: int = 0


_FIXED: dict[str, _Fact] = {
    "tenure_days": _Fact("tenure", "tenure"),
    "active_day_gap_mean": _Fact("gap_mean", "gap_mean"),
    "active_day_gap_std": _Fact("gap_std", "gap_std"),
    "recency_to_usual_gap": _Fact("recency_ratio", "activity"),
    "pending_payout_amount": _Fact("pending_amount", "money_owed"),
    "pending_payout_requests": _Fact("pending_requests", "money_owed"),
    "unpaid_commission": _Fact("unpaid_commission", "money_owed"),
    "partner_type": _Fact("partner_type", "attribute:partner_type"),
    "country": _Fact("country", "attribute:country"),
    "commission_rate": _Fact("commission_rate", "attribute:commission_rate"),
}
_PENDING_AMOUNT = "pending_payout_amount"


def _event_story(event_type: str) -> str:
    return {"activity": "activity", "sale": "sales"}.get(event_type, f"event:{event_type}")


@functools.lru_cache(maxsize=4096)  # a model's feature names, parsed once instead of on every request
def _parse(name: str) -> _Fact | None:
    if name in _FIXED:
        return _FIXED[name]
    if m := re.fullmatch(r"onboarding_events_(\d+)h", name):
        return _Fact("onboarding", "onboarding", window=int(m[1]))
    if (m := re.fullmatch(r"days_to_first_(\w+)", name)) and m[1] in FIRST_EVENT_TYPES:
        return _Fact("first_event", f"first:{m[1]}", subject=m[1])
    if (m := re.fullmatch(r"days_since_last_(\w+)", name)) and m[1] in RECENCY_TYPES:
        event_type = RECENCY_TYPES[m[1]] or "activity"
        return _Fact("recency", _event_story(event_type), subject=event_type)
    if m := re.fullmatch(r"(activity|click|revenue)_trend_(\d+)d", name):
        return _Fact("trend", f"trend:{m[1]}", subject=m[1], window=int(m[2]))
    if m := re.fullmatch(r"weekly_activity_slope_(\d+)w", name):
        return _Fact("slope", "trend:activity", window=int(m[1]))
    if m := re.fullmatch(r"revenue_share_(\d+)d", name):
        return _Fact("revenue_share", "sales", window=int(m[1]))
    if m := re.fullmatch(r"revenue_(\d+)d", name):
        return _Fact("revenue", "sales", window=int(m[1]))
    if m := re.fullmatch(r"payout_paid_amount_(\d+)d", name):
        return _Fact("payout_amount", "event:payout_paid", window=int(m[1]))
    if m := re.fullmatch(r"active_days_(\d+)", name):
        return _Fact("active_days", "activity", window=int(m[1]))
    if m := re.fullmatch(r"(lead_per_click|sale_per_lead)_(\d+)d", name):
        return _Fact("funnel", f"funnel:{m[1]}", subject=m[1], window=int(m[2]))
    if m := re.fullmatch(r"(.+)_count_(\d+)d", name):
        return _Fact("count", _event_story(m[1]), subject=m[1], window=int(m[2]))
    return None


def template_family(name: str) -> str | None:
    """The template family that words a feature (recency, count, trend, ...), None if it has none of its own.

    Features without one (a declared attribute this module does not know) are still worded, as
    "name: value".
    """
    fact = _parse(name)
    return fact.family if fact else None


def has_template(name: str) -> bool:
    """True when the feature has its own sentence in every language."""
    return _parse(name) is not None


def _speaker(name: str, fact: _Fact | None, row: Row) -> tuple[str, _Fact | None]:
    """The feature whose sentence tells this feature's story for this row: the silence in days for
    recency_to_usual_gap, the amount owed for the payout requests and their age while money is owed."""
    if fact is None:
        return name, fact
    if fact.family == "recency_ratio" and _number(row, LAST_ACTIVITY) is not None:
        return LAST_ACTIVITY, _parse(LAST_ACTIVITY)
    owed_story = fact.family == "pending_requests" or (fact.family == "recency" and fact.subject == "payout_requested")
    if owed_story and (_number(row, _PENDING_AMOUNT) or 0.0) > 0:
        return _PENDING_AMOUNT, _FIXED[_PENDING_AMOUNT]
    return name, fact


# -- rendering ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rendered:
    text: str
    """The sentence's own statement (a typical comparison goes right after it)."""
    covers: frozenset[str] = frozenset()
    """Stories this sentence also tells (they give no sentence of their own after it)."""
    tail: str = ""
    """A clause after the statement and its comparison: '; usually every 4 days'."""


def _say_r(lang: str, key: str, **values: Any) -> _Rendered:
    return _Rendered(_say(lang, key, **values))


@dataclass(frozen=True)
class _Context:
    lang: str
    growth: bool
    """True for upgrade_potential (rising is the expected reading), False for deactivation_risk."""
    covered: Collection[str]


def _number(row: Row, name: str) -> float | None:
    """The row's value as a finite float; None when missing, not a number or infinite."""
    value = row.get(name)
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _whole_days(days: float) -> int:
    return math.floor(days + 1e-9)


def _rounded(value: float) -> int:
    return int(round_half_up(value))


def _usual_gap_days(row: Row) -> int | None:
    gap = _number(row, "active_day_gap_mean")
    if gap is None or gap <= 0:
        return None
    return max(1, _rounded(gap))


def _ago(days: float, lang: str) -> str:
    """'2 days ago' / '2 дня назад'; 'less than a day ago' under one whole day."""
    whole = _whole_days(days)
    return _say(lang, "ago_recent") if whole < 1 else _say(lang, "ago", days=count(whole, "day", lang))


def _recency(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    lang, event_type = c.lang, fact.subject
    days = _whole_days(value)
    last = event_last(event_type, lang)
    if days < 1:
        return _Rendered(_say(lang, "last_event_recent", last=last))
    if c.growth or days < MIN_SILENT_DAYS:
        return _Rendered(_say(lang, "last_event_ago", last=last, days=count(days, "day", lang)))
    text = _say(lang, "no_event_for", none=events_none(event_type, lang), days=count(days, "day", lang))
    gap = _usual_gap_days(row)
    if gap is None or "gap_mean" in c.covered or days <= gap or event_type not in OWN_EVENTS:
        return _Rendered(text)
    active = "" if event_type == "activity" else "active_"
    clause = _say(lang, f"usually_{active}daily") if gap == 1 else _say(lang, f"usually_{active}every", days=count(gap, "day", lang))
    return _Rendered(text, frozenset({"gap_mean"}), f"; {clause}")


def _recency_ratio(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    """Only when the silence in days is unknown (else the activity recency speaks, see `_speaker`)."""
    if value <= 0:
        return None
    if float(round_half_up(value, 1)) <= 1:
        return _say_r(c.lang, "silent_as_usual") if value >= 0.95 else _say_r(c.lang, "silent_share_usual", share=format_percent(value * 100, c.lang))
    times = count(value, "time", c.lang, decimals=0 if value >= 10 else 1)
    return _say_r(c.lang, "silent_times_usual", times=times)


def _window_count(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n = _rounded(value)
    if n < 0:
        return None
    span = window(fact.window, c.lang)
    if n == 0:
        return _say_r(c.lang, "none_in_window", none=events_none(fact.subject, c.lang), window=span)
    return _say_r(c.lang, "count_in_window", count=events_count(n, fact.subject, c.lang), window=span)


def _revenue(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "no_revenue_in_window", window=span)
    return _say_r(c.lang, "revenue_in_window", money=format_money(value, c.lang), window=span)


def _payout_amount(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "none_paid_in_window", window=span)
    return _say_r(c.lang, "paid_in_window", money=format_money(value, c.lang), window=span)


def _revenue_share(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    span = window(fact.window, c.lang)
    if value <= 0:
        return _say_r(c.lang, "no_revenue_in_window", window=span)
    return _say_r(c.lang, "share_in_window", percent=format_percent(value * 100, c.lang), window=span)


def _active_days(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n, w, lang = _rounded(value), fact.window, c.lang
    if n < 0:
        return None
    if n == 0:
        return _say_r(lang, "active_none", w=count(w, "day", lang) if lang == "ru" else w)
    days = count(n, "day", lang) if lang == "ru" else format_number(n, lang)
    key = "active_only" if not c.growth and n < w / 2 else "active_of"
    return _say_r(lang, key, n=days, w=w)


def _trend_change(value: float) -> tuple[float, float]:
    """(tau clipped to [-1, 1], the real change of the last period against the one before, in percent)."""
    tau = min(1.0, max(-1.0, value))
    if tau >= 1 - 1e-9:
        return 1.0, math.inf
    return tau, 200.0 * tau / (1.0 - tau)


def _trend(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    lang, days = c.lang, fact.window
    words = _TREND_SUBJECTS[fact.subject][lang]
    tau, change = _trend_change(value)
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


def _trend_recent_total(fact: _Fact, row: Row) -> float | None:
    """The last period's total behind a trend (0 or more), when the row tells it; None when it does not."""
    total = {"click": f"click_count_{fact.window}d", "revenue": f"revenue_{fact.window}d"}.get(fact.subject)
    if total and (value := _number(row, total)) is not None:
        return value
    silent = _number(row, f"days_since_last_{fact.subject}") if fact.subject in ("activity", "click") else None
    if silent is not None and silent >= fact.window:
        return 0.0
    return None


def _signed_slope(slope: float, lang: str) -> str:
    return ("+" if slope > 0 else "-") + format_number(abs(slope), lang, decimals=1)


def _slope(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    lang = c.lang
    weeks = period("last", fact.window, "week", lang)
    slope = float(round_half_up(value, 1))
    if abs(slope) < 0.1:
        return _say_r(lang, "slope_flat", weeks=weeks)
    if (slope > 0) != c.growth:
        return _say_r(lang, "slope_changed", weeks=weeks, slope=_signed_slope(slope, lang))
    return _say_r(lang, "slope_up" if slope > 0 else "slope_down", weeks=weeks, slope=format_number(abs(slope), lang, decimals=1))


def _gap_mean(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value <= 0:
        return None
    gap = max(1, _rounded(value))
    if gap == 1:
        return _say_r(c.lang, "gap_mean_daily")
    return _say_r(c.lang, "gap_mean", days=count(gap, "day", c.lang))


def _gap_std(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    spread = _rounded(value)
    mean = _number(row, "active_day_gap_mean")
    irregular = None if mean is None else value >= mean
    if spread < 1:
        return _say_r(c.lang, "gap_std_barely")
    days = count(spread, "day", c.lang)
    if irregular is True and not c.growth:
        return _say_r(c.lang, "gap_std_irregular", days=days)
    if irregular is False and c.growth:
        return _say_r(c.lang, "gap_std_steady", days=days)
    return _say_r(c.lang, "gap_std", days=days)


def _funnel(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    return _say_r(c.lang, f"funnel_{fact.subject}", percent=format_percent(value * 100, c.lang), window=window(fact.window, c.lang))


def _pending_amount(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    """'unpaid commission 12,400 for 45 days': requested payouts not paid yet, and the last request's age."""
    if value <= 0:
        return None
    money = format_money(value, c.lang)
    since = _number(row, "days_since_last_payout_request")
    covers = frozenset({"money_owed"})
    if since is None or _whole_days(since) < 1:
        return _Rendered(_say(c.lang, "owed", money=money), covers)
    days = count(_whole_days(since), "day", c.lang)
    return _Rendered(_say(c.lang, "owed_for", money=money, days=days), covers | {"event:payout_requested"})


def _pending_requests(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    """Payout requests not paid, when no amount owed is known (else the amount speaks, see `_speaker`)."""
    n = _rounded(value)
    if n <= 0:
        return None
    requests = count(n, "request", c.lang)
    since = _number(row, "days_since_last_payout_request")
    if since is None:
        return _say_r(c.lang, "owed_requests", requests=requests, n=format_number(n, c.lang))
    text = _say(c.lang, "owed_requests_last", requests=requests, n=format_number(n, c.lang), ago=_ago(since, c.lang))
    return _Rendered(text, frozenset({"event:payout_requested"}))


def _unpaid_commission(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value <= 0:
        return None
    return _say_r(c.lang, "unpaid_commission", money=format_money(value, c.lang))


def _tenure(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    if value < 1:
        return _say_r(c.lang, "tenure_new")
    if value < 90:
        duration = count(_whole_days(value), "day", c.lang)
    elif value < 730:
        duration = count(math.floor(value / 30.4375), "month", c.lang)
    else:
        duration = count(math.floor(value / 365.25), "year", c.lang)
    return _say_r(c.lang, "tenure", duration=duration)


def _onboarding(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n = _rounded(value)
    if n < 0:
        return None
    tenure = _number(row, "tenure_days")
    actions = count(n, "action", c.lang)
    if tenure is not None and tenure * 24 < fact.window:  # still inside the onboarding window: say how long since sign-up
        ago = _ago(tenure, c.lang)
        return _say_r(c.lang, "onboarding_young_none" if n == 0 else "onboarding_young", actions=actions, ago=ago)
    hours = period("first", fact.window, "hour", c.lang)
    return _say_r(c.lang, "onboarding_none" if n == 0 else "onboarding", actions=actions, hours=hours)


def _first_event(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    first = _FIRST_EVENT_WORDS[fact.subject][c.lang]
    days = _whole_days(value)
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


def _commission_rate(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    return _say_r(c.lang, "commission_rate", percent=format_percent(value * 100, c.lang, decimals=1))


_NUMERIC_RENDERERS: dict[str, Callable[[_Fact, float, Row, _Context], _Rendered | None]] = {
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
    "tenure": _tenure,
    "onboarding": _onboarding,
    "first_event": _first_event,
    "commission_rate": _commission_rate,
}
_TEXT_FAMILIES = ("partner_type", "country")


def _render(name: str, fact: _Fact | None, row: Row, c: _Context) -> _Rendered | None:
    """The sentence of one feature (already resolved to its speaker), None when its value says nothing."""
    if fact is None or fact.family in _TEXT_FAMILIES:
        value = _text_value(row.get(name), c.lang)
        if value is None:
            return None
        if fact is None:
            return _say_r(c.lang, "attribute", name=name, value=value)
        return _say_r(c.lang, fact.family, value=value)
    value = _number(row, name)
    if value is None:
        return None
    return _NUMERIC_RENDERERS[fact.family](fact, value, row, c)


def _target_reads_growth(target: str) -> bool:
    if target not in ("deactivation_risk", "upgrade_potential"):
        raise ValueError(f"unknown target {target!r}: expected deactivation_risk or upgrade_potential")
    return target == "upgrade_potential"


# -- the typical partner --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Reading:
    risk_side: int
    """+1: a higher value explains risk (a longer silence); -1: a lower one (fewer sales); 0: never a reason."""
    scale: str
    """How a distance from typical is judged and shown: 'days' (whole days, floored), 'gap' (days,
    rounded), 'count', 'amount' (money, shares, ratios: no unit floor), 'trend', 'slope', '' (none)."""


_READINGS: dict[str, _Reading] = {
    "recency": _Reading(+1, "days"),
    "recency_ratio": _Reading(+1, "amount"),
    "count": _Reading(-1, "count"),
    "revenue": _Reading(-1, "amount"),
    "payout_amount": _Reading(-1, "amount"),
    "revenue_share": _Reading(-1, "amount"),
    "active_days": _Reading(-1, "count"),
    "trend": _Reading(-1, "trend"),
    "slope": _Reading(-1, "slope"),
    "gap_mean": _Reading(+1, "gap"),
    "gap_std": _Reading(+1, "gap"),
    "funnel": _Reading(-1, "amount"),
    "pending_amount": _Reading(+1, "amount"),
    "pending_requests": _Reading(+1, "count"),
    "unpaid_commission": _Reading(+1, "amount"),
    "onboarding": _Reading(-1, "count"),
    "first_event": _Reading(+1, "days"),
    "commission_rate": _Reading(-1, "amount"),
    "tenure": _Reading(0, ""),
    "partner_type": _Reading(0, ""),
    "country": _Reading(0, ""),
}
_NEVER = _Reading(0, "")
_OWED = frozenset({"pending_amount", "pending_requests", "unpaid_commission"})
_EARLY = frozenset({"onboarding", "first_event"})


@dataclass(frozen=True)
class _TypicalValue:
    """The typical partner of a segment for one feature: its median, and its quartiles when the model kept them."""

    median: float
    low: float | None = None
    high: float | None = None


def _typical(name: str, row: Row, typical: Typical | None) -> _TypicalValue | None:
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
        return _TypicalValue(float(median))
    return _TypicalValue(float(median), float(low), float(high))


def _median(name: str, row: Row, typical: Typical | None) -> float | None:
    found = _typical(name, row, typical)
    return found.median if found else None


def _shown(scale: str, value: float) -> int:
    """The whole number a sentence shows for a value of this scale."""
    return _whole_days(value) if scale == "days" else _rounded(value)


def _trend_ratio(tau: float) -> float:
    """The last period over the one before, from (A - B) / (A + B): 0 for a stop, inf for a start."""
    tau = min(1.0, max(-1.0, tau))
    return math.inf if tau >= 1 else (1.0 + tau) / (1.0 - tau)


def _beyond_typical(reading: _Reading, side: int, value: float, usual: _TypicalValue) -> bool:
    """True when the value lies past the segment's typical range on the side `side` (+1 above, -1 below):
    past the quartile when the model kept quartiles, else past the median band (module docstring)."""
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


def _reads_as_explained(fact: _Fact, value: float, row: Row, growth: bool) -> bool:
    """The value itself says what the score says: a silence for risk, not a recent login; a fall, not a rise."""
    family = fact.family
    if family in _OWED:
        return not growth  # money owed to a partner is a grievance, never a reason to grow
    if family in _EARLY:
        tenure = _number(row, "tenure_days")
        return tenure is None or tenure < EARLY_HISTORY_DAYS
    if family == "recency" and not growth:
        days = _whole_days(value)
        gap = _usual_gap_days(row) if fact.subject == "activity" else None
        return days >= MIN_SILENT_DAYS and (gap is None or days > gap)
    if family == "recency_ratio":
        return value > 1 if not growth else value < 1
    if family == "active_days" and not growth:
        return value < fact.window / 2
    if family == "trend":
        _, change = _trend_change(value)
        return change >= 0.5 if growth else change <= -0.5
    if family == "slope":
        slope = float(round_half_up(value, 1))
        return slope >= 0.1 if growth else slope <= -0.1
    if family == "gap_std" and not growth:
        return _rounded(value) >= 1
    return True


def _worth_a_slot(name: str, fact: _Fact | None, row: Row, typical: Typical | None, growth: bool) -> bool:
    """A driver (resolved to its speaker) a manager can act on: see the module docstring."""
    reading = _READINGS.get(fact.family, _NEVER) if fact else _NEVER
    value = _number(row, name)
    if reading.risk_side == 0 or fact is None or value is None or not _reads_as_explained(fact, value, row, growth):
        return False
    usual = _typical(name, row, typical)
    return usual is None or _beyond_typical(reading, -reading.risk_side if growth else reading.risk_side, value, usual)


def _typical_words(fact: _Fact, median: float, lang: str) -> str | None:
    """The typical value as the sentence's own number is shown ('3 days', '25', '1,200', '12%', '+6%'),
    None when it cannot be put that way (a typical trend from or to nothing)."""
    family = fact.family
    scale = _READINGS.get(family, _NEVER).scale
    if scale in ("days", "gap"):
        days = _whole_days(median) if scale == "days" else _rounded(median)
        return _say(lang, "typical_under_a_day") if days < 1 else count(days, "day", lang)
    if scale == "trend":
        tau, change = _trend_change(median)
        if abs(tau) >= 1 - 1e-9:
            return None
        return _say(lang, "typical_flat") if abs(change) < 0.5 else format_percent(change, lang, signed=True)
    if scale == "slope":
        slope = float(round_half_up(median, 1))
        return _say(lang, "typical_flat") if abs(slope) < 0.1 else _say(lang, "typical_slope", slope=_signed_slope(slope, lang))
    if family in ("revenue_share", "funnel", "commission_rate"):
        return format_percent(median * 100, lang, decimals=1 if family == "commission_rate" else 0)
    if family == "recency_ratio":
        return count(median, "time", lang, decimals=1)
    if median < 0.5:
        return _say(lang, "typical_none")
    if family in ("revenue", "payout_amount", "pending_amount", "unpaid_commission"):
        return format_money(median, lang)
    return format_number(median, lang)


def _sentence(rendered: _Rendered, fact: _Fact | None, median: float | None, lang: str) -> str:
    """Statement, then the typical partner's value, then the partner's own usual rhythm."""
    words = None if median is None or fact is None else _typical_words(fact, median, lang)
    comparison = "" if words is None else " " + _say(lang, "typical", value=words)
    return f"{rendered.text}{comparison}{rendered.tail}"


# -- choosing the reasons ----------------------------------------------------------------------------------
def describe_feature(
    name: str, row: Row, *, target: str, lang: str = "en", covered: Collection[str] = (), typical: Typical | None = None
) -> str | None:
    """One feature of one partner in words, with the partner's own numbers; None when its value says nothing.

    `row` maps feature names to the partner's values (other features of the row fill in details, e.g.
    the usual gap after a recency, the amount owed for the payout requests); `target` decides how a
    direction reads; `covered` names stories already told, which this sentence then leaves out (the
    "usually every N days" clause); `typical` (as `TrainedModel.typical`) adds the typical partner's
    value. Any value is worded, whether or not it would be chosen as a reason.
    """
    check_lang(lang)
    speaker, fact = _speaker(name, _parse(name), row)
    rendered = _render(speaker, fact, row, _Context(lang, _target_reads_growth(target), covered))
    if rendered is None:
        return None
    median = _median(speaker, row, typical) if fact is not None and _READINGS.get(fact.family, _NEVER).risk_side else None
    return _sentence(rendered, fact, median, lang)


def reasons_from_contributions(
    contributions: np.ndarray,
    features: Sequence[str],
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    target: str,
    k: int = 3,
    lang: str = "en",
    typical: Typical | None = None,
) -> list[list[str]]:
    """Up to k sentences per row from per-feature contributions (rows x features, log-odds, no bias).

    Features are taken strongest positive contribution first; one whose story is already told, whose
    value says nothing, or that is not worth a reason slot (see the module docstring: the wrong
    direction, within the typical range of the row's segment in `typical`, or nothing an action
    changes) is passed over. Each sentence gives the typical partner's value when `typical` has it:
    "8 logins in the last 90 days (typical: 25)".
    """
    check_lang(lang)
    growth = _target_reads_growth(target)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    contributions = np.asarray(contributions, dtype=float)
    if contributions.shape != (len(rows), len(features)):
        raise ValueError(f"contributions have shape {contributions.shape}, expected ({len(rows)}, {len(features)})")
    facts = [_parse(name) for name in features]
    stories = [fact.story if fact else f"other:{name}" for name, fact in zip(features, facts)]
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    order = np.argsort(-contributions, axis=1, kind="stable")
    out: list[list[str]] = []
    for i, row in enumerate(records):
        found: list[str] = []
        said: set[str] = set()
        covered: set[str] = set()
        for j in order[i]:
            if contributions[i, j] <= MIN_CONTRIBUTION:
                break
            if stories[j] in covered:
                continue
            speaker, fact = _speaker(features[j], facts[j], row)
            if not _worth_a_slot(speaker, fact, row, typical, growth):
                continue
            rendered = _render(speaker, fact, row, _Context(lang, growth, covered))
            if rendered is None or rendered.text in said:
                continue
            said.add(rendered.text)
            found.append(_sentence(rendered, fact, _median(speaker, row, typical), lang))
            covered |= {stories[j], fact.story if fact else stories[j]} | rendered.covers
            if len(found) == k:
                break
        out.append(found)
    return out


def reasons_for(model: TrainedModel, rows: Rows, *, k: int = 3, lang: str = "en") -> list[list[str]]:
    """Up to k reasons in words per row: what pushes this model's score up for this partner, and is
    worth a manager's attention (see the module docstring), next to the typical partner of its segment.

    For deactivation_risk, why the partner is at risk; for upgrade_potential, why it may grow.
    TreeSHAP is computed once, for these rows only: pass just the rows whose reasons are shown. `rows`
    is a DataFrame or a mapping of column name to values (with `segment`, for the segment's typical values).
    """
    check_lang(lang)
    records = as_records(rows)
    if not records:
        return []
    return reasons_from_contributions(
        model.contributions(rows), model.features, records, target=model.target, k=k, lang=lang, typical=model.typical
    )


def as_records(rows: Rows) -> list[dict[str, Any]]:
    """One dict per row, from a DataFrame or a mapping of column name to values."""
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    names = list(rows)
    return [dict(zip(names, values)) for values in zip(*(rows[name] for name in names))]


def fact_features(config: Config) -> tuple[str, ...]:
    """What a partner's own history says first, for partners whose action no model score decides.

    Tenure is not among them: how long a partner has been in the program is no reason a manager acts on.
    """
    return (LAST_ACTIVITY, "days_since_last_sale", ACTIVE_DAYS_30, segment_revenue_feature(config))


def facts_for(rows: Rows, *, names: Sequence[str], k: int = 3, lang: str = "en") -> list[list[str]]:
    """Reasons from the partner's own facts (no model): the first k of `names` that say something.

    Used where the action follows from the segment and flags rather than a model score, so that no
    TreeSHAP time is spent where it would explain nothing a manager acts on.
    """
    check_lang(lang)
    present = [name for name in names if name in rows]
    context = [c for c in ("active_day_gap_mean",) if c in rows]
    found: list[list[str]] = []
    for row in as_records({name: rows[name] for name in present + context}):
        sentences: list[str] = []
        for name in present:
            sentence = describe_feature(name, row, target="deactivation_risk", lang=lang)
            if sentence and sentence not in sentences:
                sentences.append(sentence)
            if len(sentences) == k:
                break
        found.append(sentences)
    return found
