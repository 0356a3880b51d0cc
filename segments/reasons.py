"""Reasons in words: why a partner is at risk (or may grow), from its own TreeSHAP contributions.

`reasons_for(model, rows)` computes the model's per-feature contributions once for the rows given
(TreeSHAP costs ~1.9 ms a row, so callers pass only the rows whose reasons are shown), takes for each
row the features that push the score *up* the most, and renders each as a sentence with the partner's
own numbers, in English or Russian. For deactivation_risk those are why the partner is at risk; for
upgrade_potential, why it may grow.

Choices a reader should know:
- Features that tell the same story give one sentence (the story's strongest feature speaks): recency,
  active days and recency_to_usual_gap of activity; recency, window counts, revenue and revenue share of
  sales; recency and counts of any one event type; the activity trend and the weekly slope; everything
  about money owed to the partner. "usually every N days" (active_day_gap_mean) is said once per row.
- A feature without a value worth a sentence (a missing recency, zero money owed) is skipped, and the
  next one speaks. Fewer than k positive contributors give fewer than k reasons, never filler.
- Days are whole days, floored ("no sales for 21 days" at 21.9 days is true; "22" would not be yet).
  The usual gap is rounded to the nearest day. Percentages have no decimals (commission rates keep one,
  "7.5%", as a manager would not round a contract term).
- The *_trend_* features are (A - B) / (A + B), not a percentage change; sentences state the real
  change of A against B, 2 * trend / (1 - trend): a trend of -0.6 is "fell 75%", not "fell 60%".
- Wording follows the value, never the model alone: a value whose direction contradicts the target's
  usual reading (a rising trend pushing risk up) gets a neutral sentence ("clicks changed +20% vs the
  previous month") instead of a false one.
- Russian numbers group thousands with a no-break space (U+00A0, as CLDR/ICU format "ru"; a plain
  space would let a report wrap inside a number) and use a decimal comma.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from features.schema import FIRST_EVENT_TYPES, RECENCY_TYPES
from partner_churn.config import Config
from partner_churn.domain import ACTIVE_DAYS_30, LANGS, LAST_ACTIVITY, segment_revenue_feature
from training.model import Rows, TrainedModel
RU_GROUP_SEPARATOR = "\u00a0"
"""Thousands separator of Russian numbers (no-break space)."""
MIN_CONTRIBUTION = 1e-6
"""Contributions (log-odds) at or below this are not a reason: float noise, not the model's view."""

MIN_SILENT_DAYS = 2
"""A silence shorter than this many whole days reads 'last sale 1 day ago', not 'no sales for 1 day'."""
OWN_EVENTS = frozenset({"activity", "login", "link_created", "click", "lead", "sale"})
"""Events of the partner's own work: their silence is set against the usual gap between active days."""

Row = Mapping[str, Any]


# -- numbers and words --------------------------------------------------------------------------------
def plural_ru(n: float, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after the number n: 1 день, 2 дня, 5 дней, 11 дней, 21 день; 1,5 дня."""
    value = abs(float(n))
    if not value.is_integer():
        return few
    whole = int(value)
    if whole % 10 == 1 and whole % 100 != 11:
        return one
    if 2 <= whole % 10 <= 4 and not 12 <= whole % 100 <= 14:
        return few
    return many


def _round_half_up(value: float, decimals: int = 0) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def format_number(value: float, lang: str = "en", *, decimals: int = 0) -> str:
    """A number for people: 12,400 and 1,234.5 in English; 12 400 and 1 234,5 (no-break spaces) in Russian."""
    _check_lang(lang)
    rounded = _round_half_up(value, decimals)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    text = f"{rounded:,.{decimals}f}"
    if lang == "ru":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", RU_GROUP_SEPARATOR)
    return text


def format_money(value: float, lang: str = "en") -> str:
    """Money: no decimals from 100 up (12,400), cents below unless whole (45.50, 50)."""
    if abs(value) >= 100 or float(_round_half_up(value, 2)).is_integer():
        return format_number(value, lang)
    return format_number(value, lang, decimals=2)


def format_percent(percent: float, lang: str = "en", *, signed: bool = False, decimals: int = 0) -> str:
    """A percentage given in percent units: 45%, +20%, -75%; a non-zero value under 1% is "under 1%"."""
    if 0 < abs(percent) < 0.5 and decimals == 0:
        return _TEXT[lang]["under_one_percent"]
    text = _short_number(abs(percent), lang, decimals)
    sign = ("+" if percent > 0 else "-" if percent < 0 else "") if signed else ""
    return f"{sign}{text}%"


def _short_number(value: float, lang: str, decimals: int) -> str:
    """A number with at most `decimals` decimals, trailing zeros dropped: 7.5, 12, 3.4."""
    text = format_number(value, lang, decimals=decimals)
    if decimals:
        text = text.rstrip("0").rstrip(".,")
    return text


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: reasons are written in {', '.join(LANGS)}")


_NOUNS: dict[str, dict[str, tuple[str, ...]]] = {
    "day": {"en": ("day", "days"), "ru": ("день", "дня", "дней")},
    "week": {"en": ("week", "weeks"), "ru": ("неделю", "недели", "недель")},
    "month": {"en": ("month", "months"), "ru": ("месяц", "месяца", "месяцев")},
    "year": {"en": ("year", "years"), "ru": ("год", "года", "лет")},
    "hour": {"en": ("hour", "hours"), "ru": ("час", "часа", "часов")},
    "action": {"en": ("action", "actions"), "ru": ("действие", "действия", "действий")},
    "time": {"en": ("time", "times"), "ru": ("раз", "раза", "раз")},
    "request": {"en": ("payout request", "payout requests"), "ru": ("запрос выплаты", "запроса выплаты", "запросов выплаты")},
}


def _form(forms: Mapping[str, tuple[str, ...]], n: float, lang: str) -> str:
    words = forms[lang]
    if lang == "ru":
        return plural_ru(n, *words)
    return words[0] if float(n) == 1 else words[1]


def _count(n: float, noun: str, lang: str, *, decimals: int = 0) -> str:
    """'21 days' / '21 день'; with decimals, '1.5 times' / '1,5 раза'."""
    shown = float(_round_half_up(n, decimals))
    return f"{_short_number(shown, lang, decimals)} {_form(_NOUNS[noun], shown, lang)}"


@dataclass(frozen=True)
class _Event:
    en: tuple[str, str]
    """Singular, plural: '1 click', '3 clicks', 'no clicks'."""
    ru: tuple[str, str, str]
    """After 1 / 2-4 / 5+ (the last is also the genitive of 'нет ...')."""
    en_last: str
    ru_last: str


EVENTS: dict[str, _Event] = {
    "activity": _Event(("activity", "activity"), ("активность", "активности", "активности"), "last activity", "последняя активность"),
    "login": _Event(("login", "logins"), ("вход", "входа", "входов"), "last login", "последний вход"),
    "link_created": _Event(("new link", "new links"), ("новая ссылка", "новые ссылки", "новых ссылок"), "last new link", "последняя новая ссылка"),
    "click": _Event(("click", "clicks"), ("клик", "клика", "кликов"), "last click", "последний клик"),
    "lead": _Event(("lead", "leads"), ("лид", "лида", "лидов"), "last lead", "последний лид"),
    "sale": _Event(("sale", "sales"), ("продажа", "продажи", "продаж"), "last sale", "последняя продажа"),
    "payout_requested": _Event(
        ("payout request", "payout requests"), ("запрос выплаты", "запроса выплаты", "запросов выплаты"), "last payout request", "последний запрос выплаты"
    ),
    "payout_paid": _Event(("payout", "payouts"), ("выплата", "выплаты", "выплат"), "last payout", "последняя выплата"),
    "training_completed": _Event(
        ("training module completed", "training modules completed"),
        ("пройденный урок", "пройденных урока", "пройденных уроков"),
        "last training module completed",
        "последний пройденный урок",
    ),
    "webinar_attended": _Event(
        ("webinar attended", "webinars attended"),
        ("посещённый вебинар", "посещённых вебинара", "посещённых вебинаров"),
        "last webinar attended",
        "последний посещённый вебинар",
    ),
    "message_opened": _Event(
        ("message opened", "messages opened"), ("открытое письмо", "открытых письма", "открытых писем"), "last message opened", "последнее открытое письмо"
    ),
}
"""Words for the default event vocabulary; a configured type not listed here is named as it is."""


def _event(event_type: str) -> _Event:
    if event_type in EVENTS:
        return EVENTS[event_type]
    quoted = f"«{event_type}»"
    return _Event(
        (f"'{event_type}' event", f"'{event_type}' events"),
        (f"событие {quoted}", f"события {quoted}", f"событий {quoted}"),
        f"last '{event_type}' event",
        f"последнее событие {quoted}",
    )


def _events_count(n: int, event_type: str, lang: str) -> str:
    """'3 clicks' / '3 клика'."""
    words = _event(event_type)
    noun = (words.en[0] if n == 1 else words.en[1]) if lang == "en" else plural_ru(n, *words.ru)
    return f"{format_number(n, lang)} {noun}"


def _events_none(event_type: str, lang: str) -> str:
    """'no clicks' / 'нет кликов'."""
    words = _event(event_type)
    return f"no {words.en[1]}" if lang == "en" else f"нет {words.ru[2]}"


def _event_last(event_type: str, lang: str) -> str:
    words = _event(event_type)
    return words.en_last if lang == "en" else words.ru_last


def _window(days: int, lang: str) -> str:
    """'the last 30 days' / 'последние 30 дней' (the sentence adds 'in' / 'за')."""
    if lang == "en":
        return "the last day" if days == 1 else f"the last {_count(days, 'day', lang)}"
    return "последний день" if days == 1 else f"последние {_count(days, 'day', lang)}"


def _is_month(days: int) -> bool:
    return 28 <= days <= 31


def _previous(days: int, lang: str) -> str:
    """The period a trend compares with: 'vs the previous month' / 'к прошлому месяцу'."""
    if lang == "en":
        return "vs the previous month" if _is_month(days) else f"vs the previous {_count(days, 'day', lang)}"
    return "к прошлому месяцу" if _is_month(days) else f"к предыдущему периоду в {_count(days, 'day', lang)}"


def _before(days: int, lang: str) -> str:
    """'the month before' / 'месяцем раньше'."""
    if lang == "en":
        return "the month before" if _is_month(days) else f"the {_count(days, 'day', lang)} before"
    return "месяцем раньше" if _is_month(days) else f"в предыдущие {_count(days, 'day', lang)}"


# -- sentence templates ---------------------------------------------------------------------------------
_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "under_one_percent": "under 1%",
        "no_event_for": "{none} for {days}",
        "last_event_ago": "{last} {days} ago",
        "last_event_recent": "{last} less than a day ago",
        "usually_every": "usually every {days}",
        "usually_daily": "usually every day",
        "usually_active_every": "usually active every {days}",
        "usually_active_daily": "usually active every day",
        "silent_times_usual": "silent {times} longer than the usual gap between active days",
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
        "trend_from_zero": "{subject} in {window} after none {before}",
        "trend_to_zero": "no {subject} in {window} after some {before}",
        "slope_down": "active days per week falling over the last {weeks} ({slope} a week)",
        "slope_up": "active days per week rising over the last {weeks} ({slope} a week)",
        "slope_changed": "active days per week over the last {weeks}: trend {slope} a week",
        "slope_flat": "active days per week flat over the last {weeks}",
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
        "owed_requests_last": "{requests} unpaid (the last one {days} ago)",
        "unpaid_commission": "commission earned but not paid out: {money}",
        "tenure": "in the program for {duration}",
        "tenure_new": "joined less than a day ago",
        "onboarding": "{actions} in the first {hours} after sign-up",
        "onboarding_none": "no activity in the first {hours} after sign-up",
        "onboarding_young": "{actions} since sign-up",
        "onboarding_young_none": "no activity since sign-up",
        "first_event": "{first} {days} after sign-up",
        "first_event_same_day": "{first} within a day of sign-up",
        "partner_type": "partner type: {value}",
        "country": "country: {value}",
        "commission_rate": "commission rate {percent}",
        "attribute": "{name}: {value}",
    },
    "ru": {
        "under_one_percent": "менее 1%",
        "no_event_for": "{none} {days}",
        "last_event_ago": "{last} {days} назад",
        "last_event_recent": "{last} меньше суток назад",
        "usually_every": "обычно — раз в {days}",
        "usually_daily": "обычно — каждый день",
        "usually_active_every": "обычно активен раз в {days}",
        "usually_active_daily": "обычно активен каждый день",
        "silent_times_usual": "пауза в {times} дольше обычного перерыва между активными днями",
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
        "slope_down": "активных дней в неделю всё меньше за последние {weeks} ({slope} в неделю)",
        "slope_up": "активных дней в неделю всё больше за последние {weeks} ({slope} в неделю)",
        "slope_changed": "активные дни в неделю за последние {weeks}: тренд {slope} в неделю",
        "slope_flat": "число активных дней в неделю не менялось за последние {weeks}",
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
        "owed_requests_last": "неоплаченных запросов выплаты: {n} (последний — {days} назад)",
        "unpaid_commission": "заработанная, но не выплаченная комиссия: {money}",
        "tenure": "в программе {duration}",
        "tenure_new": "в программе меньше суток",
        "onboarding": "{actions} за первые {hours} после регистрации",
        "onboarding_none": "ни одного действия за первые {hours} после регистрации",
        "onboarding_young": "{actions} с момента регистрации",
        "onboarding_young_none": "ни одного действия с момента регистрации",
        "first_event": "{first} через {days} после регистрации",
        "first_event_same_day": "{first} — в первые сутки после регистрации",
        "partner_type": "тип партнёра: {value}",
        "country": "страна: {value}",
        "commission_rate": "ставка комиссии {percent}",
        "attribute": "{name}: {value}",
    },
}

_TREND_SUBJECTS: dict[str, dict[str, dict[str, str]]] = {
    "activity": {
        "en": {"subject": "activity"},
        "ru": {"subject": "активность", "genitive": "активности", "fell": "упала", "rose": "выросла", "changed": "изменилась",
               "appeared": "появилась", "pronoun": "её", "were": "была"},
    },
    "click": {
        "en": {"subject": "clicks"},
        "ru": {"subject": "клики", "genitive": "кликов", "fell": "упали", "rose": "выросли", "changed": "изменились",
               "appeared": "появились", "pronoun": "их", "were": "были"},
    },
    "revenue": {
        "en": {"subject": "revenue"},
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


# -- rendering ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rendered:
    text: str
    covers: frozenset[str] = frozenset()
    """Stories this sentence also tells (they give no sentence of their own after it)."""


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


def _usual_gap_days(row: Row) -> int | None:
    gap = _number(row, "active_day_gap_mean")
    if gap is None or gap <= 0:
        return None
    return max(1, int(_round_half_up(gap)))


def _recency(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    lang, event_type = c.lang, fact.subject
    if event_type == "payout_requested":
        owed = _owed_sentence(row, c)
        if owed is not None:
            return owed
    days = _whole_days(value)
    last = _event_last(event_type, lang)
    if days < 1:
        return _Rendered(_say(lang, "last_event_recent", last=last))
    if c.growth or days < MIN_SILENT_DAYS:
        return _Rendered(_say(lang, "last_event_ago", last=last, days=_count(days, "day", lang)))
    text = _say(lang, "no_event_for", none=_events_none(event_type, lang), days=_count(days, "day", lang))
    gap = _usual_gap_days(row)
    if gap is None or "gap_mean" in c.covered or days <= gap or event_type not in OWN_EVENTS:
        return _Rendered(text)
    active = "" if event_type == "activity" else "active_"
    clause = _say(lang, f"usually_{active}daily") if gap == 1 else _say(lang, f"usually_{active}every", days=_count(gap, "day", lang))
    return _Rendered(f"{text}; {clause}", frozenset({"gap_mean"}))


def _recency_ratio(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    silent = _number(row, "days_since_last_activity")
    if silent is not None:
        return _recency(_Fact("recency", "activity", subject="activity"), silent, row, c)
    if value <= 0:
        return None
    if value >= 1:
        times = _count(value, "time", c.lang, decimals=0 if value >= 10 else 1)
        return _Rendered(_say(c.lang, "silent_times_usual", times=times))
    return _Rendered(_say(c.lang, "silent_share_usual", share=format_percent(value * 100, c.lang)))


def _window_count(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n = int(_round_half_up(value))
    if n < 0:
        return None
    window = _window(fact.window, c.lang)
    if n == 0:
        return _Rendered(_say(c.lang, "none_in_window", none=_events_none(fact.subject, c.lang), window=window))
    return _Rendered(_say(c.lang, "count_in_window", count=_events_count(n, fact.subject, c.lang), window=window))


def _revenue(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    window = _window(fact.window, c.lang)
    if value <= 0:
        return _Rendered(_say(c.lang, "no_revenue_in_window", window=window))
    return _Rendered(_say(c.lang, "revenue_in_window", money=format_money(value, c.lang), window=window))


def _payout_amount(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    window = _window(fact.window, c.lang)
    if value <= 0:
        return _Rendered(_say(c.lang, "none_paid_in_window", window=window))
    return _Rendered(_say(c.lang, "paid_in_window", money=format_money(value, c.lang), window=window))


def _revenue_share(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    window = _window(fact.window, c.lang)
    if value <= 0:
        return _Rendered(_say(c.lang, "no_revenue_in_window", window=window))
    return _Rendered(_say(c.lang, "share_in_window", percent=format_percent(value * 100, c.lang), window=window))


def _active_days(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n, w, lang = int(_round_half_up(value)), fact.window, c.lang
    if n < 0:
        return None
    if n == 0:
        return _Rendered(_say(lang, "active_none", w=_count(w, "day", lang) if lang == "ru" else w))
    days = _count(n, "day", lang) if lang == "ru" else format_number(n, lang)
    key = "active_only" if not c.growth and n < w / 2 else "active_of"
    return _Rendered(_say(lang, key, n=days, w=w))


def _trend(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    lang, days = c.lang, fact.window
    words = _TREND_SUBJECTS[fact.subject][lang]
    tau = min(1.0, max(-1.0, value))
    if tau >= 1 - 1e-9:
        return _Rendered(_say(lang, "trend_from_zero", **words, window=_window(days, lang), before=_before(days, lang)))
    if tau <= -1 + 1e-9:
        return _Rendered(_say(lang, "trend_to_zero", **words, window=_window(days, lang), before=_before(days, lang)))
    change = 200.0 * tau / (1.0 - tau)  # percent change of the last period against the one before
    previous = _previous(days, lang)
    if abs(change) < 0.5:
        recent = _trend_recent_total(fact, row)
        if tau == 0 and recent == 0:
            return _Rendered(_say(lang, "trend_none_both", **words, window=_window(2 * days, lang)))
        flat = "прошлого месяца" if _is_month(days) else f"предыдущего периода в {_count(days, 'day', lang)}"
        return _Rendered(_say(lang, "trend_flat", **words, previous=previous, flat=flat))
    if (change > 0) != c.growth:
        return _Rendered(_say(lang, "trend_changed", **words, percent=format_percent(change, lang, signed=True), previous=previous))
    if change < 0:
        return _Rendered(_say(lang, "trend_down", **words, percent=format_percent(min(99.0, -change), lang), previous=previous))
    ratio = (1.0 + tau) / (1.0 - tau)
    if ratio >= 3:
        decimals = 0 if ratio >= 10 else 1
        times = _count(ratio, "time", lang, decimals=decimals) if lang == "ru" else _short_number(ratio, lang, decimals)
        return _Rendered(_say(lang, "trend_up_times", **words, times=times, previous=previous))
    return _Rendered(_say(lang, "trend_up", **words, percent=format_percent(change, lang), previous=previous))


def _trend_recent_total(fact: _Fact, row: Row) -> float | None:
    """The last period's total behind a trend (0 or more), when the row tells it; None when it does not."""
    total = {"click": f"click_count_{fact.window}d", "revenue": f"revenue_{fact.window}d"}.get(fact.subject)
    if total and (value := _number(row, total)) is not None:
        return value
    silent = _number(row, f"days_since_last_{fact.subject}") if fact.subject in ("activity", "click") else None
    if silent is not None and silent >= fact.window:
        return 0.0
    return None


def _slope(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    lang = c.lang
    weeks = _count(fact.window, "week", lang)
    slope = float(_round_half_up(value, 1))
    if abs(slope) < 0.1:
        return _Rendered(_say(lang, "slope_flat", weeks=weeks))
    signed = ("+" if slope > 0 else "-") + format_number(abs(slope), lang, decimals=1)
    if (slope > 0) != c.growth:
        return _Rendered(_say(lang, "slope_changed", weeks=weeks, slope=signed))
    return _Rendered(_say(lang, "slope_up" if slope > 0 else "slope_down", weeks=weeks, slope=signed))


def _gap_mean(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value <= 0:
        return None
    gap = max(1, int(_round_half_up(value)))
    if gap == 1:
        return _Rendered(_say(c.lang, "gap_mean_daily"))
    return _Rendered(_say(c.lang, "gap_mean", days=_count(gap, "day", c.lang)))


def _gap_std(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    spread = int(_round_half_up(value))
    mean = _number(row, "active_day_gap_mean")
    irregular = None if mean is None else value >= mean
    if spread < 1:
        return _Rendered(_say(c.lang, "gap_std_barely"))
    days = _count(spread, "day", c.lang)
    if irregular is True and not c.growth:
        return _Rendered(_say(c.lang, "gap_std_irregular", days=days))
    if irregular is False and c.growth:
        return _Rendered(_say(c.lang, "gap_std_steady", days=days))
    return _Rendered(_say(c.lang, "gap_std", days=days))


def _funnel(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    return _Rendered(_say(c.lang, f"funnel_{fact.subject}", percent=format_percent(value * 100, c.lang), window=_window(fact.window, c.lang)))


def _owed_sentence(row: Row, c: _Context) -> _Rendered | None:
    """'unpaid commission 12,400 for 45 days': requested payouts not paid yet, and the last request's age."""
    amount = _number(row, "pending_payout_amount")
    if amount is None or amount <= 0:
        return None
    money = format_money(amount, c.lang)
    since = _number(row, "days_since_last_payout_request")
    covers = frozenset({"money_owed"})
    if since is None or _whole_days(since) < 1:
        return _Rendered(_say(c.lang, "owed", money=money), covers)
    days = _count(_whole_days(since), "day", c.lang)
    return _Rendered(_say(c.lang, "owed_for", money=money, days=days), covers | {"event:payout_requested"})


def _pending_amount(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    return _owed_sentence({**row, "pending_payout_amount": value}, c)


def _pending_requests(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    owed = _owed_sentence(row, c)
    if owed is not None:
        return owed
    n = int(_round_half_up(value))
    if n <= 0:
        return None
    requests = _count(n, "request", c.lang)
    since = _number(row, "days_since_last_payout_request")
    if since is None:
        return _Rendered(_say(c.lang, "owed_requests", requests=requests, n=format_number(n, c.lang)))
    days = _count(_whole_days(since), "day", c.lang)
    text = _say(c.lang, "owed_requests_last", requests=requests, n=format_number(n, c.lang), days=days)
    return _Rendered(text, frozenset({"event:payout_requested"}))


def _unpaid_commission(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value <= 0:
        return None
    return _Rendered(_say(c.lang, "unpaid_commission", money=format_money(value, c.lang)))


def _tenure(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    if value < 1:
        return _Rendered(_say(c.lang, "tenure_new"))
    if value < 90:
        duration = _count(_whole_days(value), "day", c.lang)
    elif value < 730:
        duration = _count(math.floor(value / 30.4375), "month", c.lang)
    else:
        duration = _count(math.floor(value / 365.25), "year", c.lang)
    return _Rendered(_say(c.lang, "tenure", duration=duration))


def _onboarding(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    n = int(_round_half_up(value))
    if n < 0:
        return None
    tenure = _number(row, "tenure_days")
    young = tenure is not None and tenure * 24 < fact.window
    hours = _count(fact.window, "hour", c.lang)
    actions = _count(n, "action", c.lang)
    if young:
        return _Rendered(_say(c.lang, "onboarding_young_none" if n == 0 else "onboarding_young", actions=actions))
    return _Rendered(_say(c.lang, "onboarding_none" if n == 0 else "onboarding", actions=actions, hours=hours))


def _first_event(fact: _Fact, value: float, row: Row, c: _Context) -> _Rendered | None:
    if value < 0:
        return None
    first = _FIRST_EVENT_WORDS[fact.subject][c.lang]
    days = _whole_days(value)
    if days < 1:
        return _say_r(c.lang, "first_event_same_day", first=first)
    return _say_r(c.lang, "first_event", first=first, days=_count(days, "day", c.lang))


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


def describe_feature(name: str, row: Row, *, target: str, lang: str = "en", covered: Collection[str] = ()) -> str | None:
    """One feature of one partner in words, with the partner's own numbers; None when its value says nothing.

    `row` maps feature names to the partner's values (other features of the row fill in details, e.g.
    the usual gap after a recency); `target` decides how a direction reads; `covered` names stories
    already told, which this sentence then leaves out (the "usually every N days" clause).
    """
    _check_lang(lang)
    rendered = _render(name, _parse(name), row, _Context(lang, _target_reads_growth(target), covered))
    return rendered.text if rendered else None


# -- choosing the reasons ----------------------------------------------------------------------------------
COMPARED_FAMILIES = {"count", "revenue", "payout_amount", "active_days"}
"""Families compared with the typical partner of the same segment (the training rows' median)."""


def _typical(name: str, row: Row, typical: Mapping[str, Mapping[str, float]] | None) -> float | None:
    if not typical:
        return None
    segment = row.get("segment")
    value = typical.get(str(segment), {}).get(name, typical.get("all", {}).get(name))
    return value if value is not None and math.isfinite(value) else None


def _contradicts(name: str, fact: _Fact | None, row: Row, typical: Mapping[str, Mapping[str, float]] | None, growth: bool) -> bool:
    """A count above the typical partner's cannot be a reason for risk (below it, for growth): skip it,
    whatever an interaction in the trees made of it."""
    if fact is None or fact.family not in COMPARED_FAMILIES:
        return False
    value, median = _number(row, name), _typical(name, row, typical)
    if value is None or median is None:
        return False
    return value > median if not growth else value < median


def _typical_suffix(name: str, fact: _Fact | None, row: Row, typical: Mapping[str, Mapping[str, float]] | None, lang: str) -> str:
    if fact is None or fact.family not in COMPARED_FAMILIES:
        return ""
    value, median = _number(row, name), _typical(name, row, typical)
    if value is None or median is None or round(value) == round(median):
        return ""
    return f" ({'typical' if lang == 'en' else 'обычно'}: {format_number(median, lang)})"


def reasons_from_contributions(
    contributions: np.ndarray,
    features: Sequence[str],
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    target: str,
    k: int = 3,
    lang: str = "en",
    typical: Mapping[str, Mapping[str, float]] | None = None,
) -> list[list[str]]:
    """Up to k sentences per row from per-feature contributions (rows x features, log-odds, no bias).

    `typical` (the training rows' medians, per segment and over 'all') turns a bare count into a
    comparison, so the sentence says why it matters: "8 logins in the last 90 days (typical: 25)"; a
    count on the wrong side of typical (busier than usual, yet a reason for risk) is skipped.

    Features are taken strongest positive contribution first; a feature whose story is already told,
    or whose value says nothing, is passed over; fewer than k usable positive contributors give fewer
    than k sentences.
    """
    _check_lang(lang)
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
        covered: set[str] = set()
        for j in order[i]:
            if contributions[i, j] <= MIN_CONTRIBUTION:
                break
            if stories[j] in covered or _contradicts(features[j], facts[j], row, typical, growth):
                continue
            rendered = _render(features[j], facts[j], row, _Context(lang, growth, covered))
            if rendered is None or rendered.text in found:
                continue
            found.append(rendered.text + _typical_suffix(features[j], facts[j], row, typical, lang))
            covered |= {stories[j]} | rendered.covers
            if len(found) == k:
                break
        out.append(found)
    return out


def reasons_for(model: TrainedModel, rows: Rows, *, k: int = 3, lang: str = "en") -> list[list[str]]:
    """Up to k reasons in words per row: what pushes this model's score up for this partner.

    For deactivation_risk, why the partner is at risk; for upgrade_potential, why it may grow.
    TreeSHAP is computed once, for these rows only: pass just the rows whose reasons are shown. `rows`
    is a DataFrame or a mapping of column name to values.
    """
    _check_lang(lang)
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
    """What a partner's own history says first, for partners whose action no model score decides."""
    return (LAST_ACTIVITY, "days_since_last_sale", ACTIVE_DAYS_30, segment_revenue_feature(config), "tenure_days")


def facts_for(rows: Rows, *, names: Sequence[str], k: int = 3, lang: str = "en") -> list[list[str]]:
    """Reasons from the partner's own facts (no model): the first k of `names` that say something.

    Used where the action follows from the segment and flags rather than a model score, so that no
    TreeSHAP time is spent where it would explain nothing a manager acts on.
    """
    _check_lang(lang)
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
