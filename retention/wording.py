"""Numbers and words that reasons are built from, in English and Russian.

Thousands and decimals, money, percentages, "N <noun>" with the right plural form, the words for each
event type, and the periods a sentence names ("the last 30 days", "the first hour", "the month
before"). `retention.reasons` owns the sentences; this module owns the pieces every sentence shares,
so that a plural form or a number format is decided in one place.

- Russian numbers group thousands with a no-break space (U+00A0, as CLDR/ICU format "ru"; a plain
  space would let a report wrap inside a number) and use a decimal comma.
- Russian nouns after a number take one of three forms (1 день, 2 дня, 5 дней, 11 дней, 21 день);
  English ones two (1 day, 0 / 2 days). A period of one unit is named without the number ("the last
  day", "the first hour", "последнюю неделю"), as people say it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from partner_churn.domain import LANGS

RU_GROUP_SEPARATOR = "\u00a0"
"""Thousands separator of Russian numbers (no-break space)."""
PERCENT_SIGN = {"en": "%", "ru": "\u00a0%"}
"""After a percentage: 12% in English; 12 % (a no-break space, as Russian typography has it) in Russian."""
UNDER_ONE_PERCENT = {"en": "under 1%", "ru": "менее 1\u00a0%"}
"""A non-zero percentage that would round to 0%."""


def check_lang(lang: str) -> None:
    """A clear error for a language reasons are not written in."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: reasons are written in {', '.join(LANGS)}")


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


@functools.lru_cache(maxsize=1 << 16)  # the same few thousand day counts and amounts recur over 100,000 partners
def round_half_up(value: float, decimals: int = 0) -> Decimal:
    """Rounding as people do it (2.5 -> 3), not banker's rounding (2.5 -> 2)."""
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def format_number(value: float, lang: str = "en", *, decimals: int = 0) -> str:
    """A number for people: 12,400 and 1,234.5 in English; 12 400 and 1 234,5 (no-break spaces) in Russian."""
    check_lang(lang)
    rounded = round_half_up(value, decimals)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0"
    text = f"{rounded:,.{decimals}f}"
    if lang == "ru":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", RU_GROUP_SEPARATOR)
    return text


def format_signed(value: float, lang: str = "en", *, decimals: int = 0) -> str:
    """A change for people: +15, \u22128, 0 (the sign of the rounded value; a true minus sign)."""
    rounded = round_half_up(value, decimals)
    sign = "+" if rounded > 0 else "\u2212" if rounded < 0 else ""
    return sign + format_number(abs(float(rounded)), lang, decimals=decimals)


def short_number(value: float, lang: str, decimals: int) -> str:
    """A number with at most `decimals` decimals, trailing zeros dropped: 7.5, 12, 3.4."""
    text = format_number(value, lang, decimals=decimals)
    if decimals:
        text = text.rstrip("0").rstrip(".,")
    return text


def format_money(value: float, lang: str = "en") -> str:
    """Money: no decimals from 100 up (12,400), cents below unless whole (45.50, 50)."""
    if abs(value) >= 100 or float(round_half_up(value, 2)).is_integer():
        return format_number(value, lang)
    return format_number(value, lang, decimals=2)


def format_percent(percent: float, lang: str = "en", *, signed: bool = False, decimals: int = 0) -> str:
    """A percentage given in percent units: 45%, +20%, -75%; a non-zero value under 1% is "under 1%"."""
    check_lang(lang)
    if 0 < abs(percent) < 0.5 and decimals == 0:
        return UNDER_ONE_PERCENT[lang]
    text = short_number(abs(percent), lang, decimals)
    sign = ("+" if percent > 0 else "-" if percent < 0 else "") if signed else ""
    return f"{sign}{text}{PERCENT_SIGN[lang]}"


def format_date(stamp: object, lang: str) -> str:
    """A day for people: 2026-07-01 in English, 01.07.2026 in Russian; empty for a missing one, and a text
    that is no date as it is."""
    check_lang(lang)
    if stamp is None or (isinstance(stamp, str) and not stamp):
        return ""
    try:
        day = pd.Timestamp(stamp)
    except ValueError:
        return str(stamp)
    if pd.isna(day):
        return ""
    return f"{day:%d.%m.%Y}" if lang == "ru" else f"{day:%Y-%m-%d}"


NOUNS: dict[str, dict[str, tuple[str, ...]]] = {
    "day": {"en": ("day", "days"), "ru": ("день", "дня", "дней")},
    "week": {"en": ("week", "weeks"), "ru": ("неделю", "недели", "недель")},
    "month": {"en": ("month", "months"), "ru": ("месяц", "месяца", "месяцев")},
    "year": {"en": ("year", "years"), "ru": ("год", "года", "лет")},
    "hour": {"en": ("hour", "hours"), "ru": ("час", "часа", "часов")},
    "action": {"en": ("action", "actions"), "ru": ("действие", "действия", "действий")},
    "time": {"en": ("time", "times"), "ru": ("раз", "раза", "раз")},
    "request": {"en": ("payout request", "payout requests"), "ru": ("запрос выплаты", "запроса выплаты", "запросов выплаты")},
}
"""Nouns counted in reasons: English singular, plural; Russian after 1 / 2-4 / 5+ (accusative where a
sentence puts them after "за" or "на": "за 1 неделю")."""


def noun_form(forms: Mapping[str, tuple[str, ...]], n: float, lang: str) -> str:
    """The form of a noun after the number n (English: singular only for exactly 1)."""
    words = forms[lang]
    if lang == "ru":
        return plural_ru(n, *words)
    return words[0] if float(n) == 1 else words[1]


def count(n: float, noun: str, lang: str, *, decimals: int = 0) -> str:
    """'21 days' / '21 день'; with decimals, '1.5 times' / '1,5 раза'."""
    shown = float(round_half_up(n, decimals))
    return f"{short_number(shown, lang, decimals)} {noun_form(NOUNS[noun], shown, lang)}"


@dataclass(frozen=True)
class EventWords:
    """How reasons name one event type."""

    en: tuple[str, str]
    """Singular, plural: '1 click', '3 clicks', 'no clicks'."""
    ru: tuple[str, str, str]
    """After 1 / 2-4 / 5+ (the last is also the genitive of 'нет ...')."""
    en_last: str
    ru_last: str


EVENTS: dict[str, EventWords] = {
    "activity": EventWords(("activity", "activity"), ("активность", "активности", "активности"), "last activity", "последняя активность"),
    "login": EventWords(("login", "logins"), ("вход", "входа", "входов"), "last login", "последний вход"),
    "link_created": EventWords(
        ("new link", "new links"), ("новая ссылка", "новые ссылки", "новых ссылок"), "last new link", "последняя новая ссылка"
    ),
    "click": EventWords(("click", "clicks"), ("клик", "клика", "кликов"), "last click", "последний клик"),
    "lead": EventWords(("lead", "leads"), ("лид", "лида", "лидов"), "last lead", "последний лид"),
    "sale": EventWords(("sale", "sales"), ("продажа", "продажи", "продаж"), "last sale", "последняя продажа"),
    "payout_requested": EventWords(
        ("payout request", "payout requests"),
        ("запрос выплаты", "запроса выплаты", "запросов выплаты"),
        "last payout request",
        "последний запрос выплаты",
    ),
    "payout_paid": EventWords(("payout", "payouts"), ("выплата", "выплаты", "выплат"), "last payout", "последняя выплата"),
    "training_completed": EventWords(
        ("training module completed", "training modules completed"),
        ("пройденный урок", "пройденных урока", "пройденных уроков"),
        "last training module completed",
        "последний пройденный урок",
    ),
    "webinar_attended": EventWords(
        ("webinar attended", "webinars attended"),
        ("посещённый вебинар", "посещённых вебинара", "посещённых вебинаров"),
        "last webinar attended",
        "последний посещённый вебинар",
    ),
    "message_opened": EventWords(
        ("message opened", "messages opened"),
        ("открытое письмо", "открытых письма", "открытых писем"),
        "last message opened",
        "последнее открытое письмо",
    ),
}
"""Words for the default event vocabulary; a configured type not listed here is named as it is."""


def event_words(event_type: str) -> EventWords:
    """The words of an event type; a type of a program's own vocabulary is quoted as it is."""
    if event_type in EVENTS:
        return EVENTS[event_type]
    quoted = f"«{event_type}»"
    return EventWords(
        (f"'{event_type}' event", f"'{event_type}' events"),
        (f"событие {quoted}", f"события {quoted}", f"событий {quoted}"),
        f"last '{event_type}' event",
        f"последнее событие {quoted}",
    )


def events_count(n: int, event_type: str, lang: str) -> str:
    """'3 clicks' / '3 клика'."""
    words = event_words(event_type)
    noun = (words.en[0] if n == 1 else words.en[1]) if lang == "en" else plural_ru(n, *words.ru)
    return f"{format_number(n, lang)} {noun}"


def events_none(event_type: str, lang: str) -> str:
    """'no clicks' / 'нет кликов'."""
    words = event_words(event_type)
    return f"no {words.en[1]}" if lang == "en" else f"нет {words.ru[2]}"


def event_last(event_type: str, lang: str) -> str:
    """'last click' / 'последний клик'."""
    words = event_words(event_type)
    return words.en_last if lang == "en" else words.ru_last


_ONE_UNIT: dict[str, dict[str, tuple[str, str]]] = {
    "last": {"day": ("the last day", "последний день"), "week": ("the last week", "последнюю неделю")},
    "first": {"day": ("the first day", "первый день"), "hour": ("the first hour", "первый час")},
}


def period(which: str, n: int, unit: str, lang: str) -> str:
    """'the last 30 days', 'the first 72 hours', 'the last week' / 'последние 30 дней', 'первые 72 часа',
    'последнюю неделю' (the form after 'in'/'over' and 'за'): which is 'last' or 'first'."""
    if n == 1:
        en, ru = _ONE_UNIT[which][unit]
        return en if lang == "en" else ru
    if lang == "en":
        return f"the {which} {count(n, unit, lang)}"
    return f"{'последние' if which == 'last' else 'первые'} {count(n, unit, lang)}"


def window(days: int, lang: str) -> str:
    """'the last 30 days' / 'последние 30 дней' (the sentence adds 'in' / 'за')."""
    return period("last", days, "day", lang)


def is_month(days: int) -> bool:
    """A window people call 'a month'."""
    return 28 <= days <= 31


def previous(days: int, lang: str) -> str:
    """The period a trend compares with: 'vs the previous month' / 'к прошлому месяцу'."""
    if lang == "en":
        if is_month(days):
            return "vs the previous month"
        return "vs the day before" if days == 1 else f"vs the previous {count(days, 'day', lang)}"
    if is_month(days):
        return "к прошлому месяцу"
    return "к предыдущему дню" if days == 1 else f"к предыдущему периоду в {count(days, 'day', lang)}"


def previous_genitive_ru(days: int) -> str:
    """'прошлого месяца' / 'предыдущего периода в 14 дней' (after 'на уровне')."""
    if is_month(days):
        return "прошлого месяца"
    return "предыдущего дня" if days == 1 else f"предыдущего периода в {count(days, 'day', 'ru')}"


def before(days: int, lang: str) -> str:
    """'the month before' / 'месяцем раньше': the period before a trend's last one."""
    if lang == "en":
        if is_month(days):
            return "the month before"
        return "the day before" if days == 1 else f"the {count(days, 'day', lang)} before"
    if is_month(days):
        return "месяцем раньше"
    return "днём раньше" if days == 1 else f"в предыдущие {count(days, 'day', lang)}"
