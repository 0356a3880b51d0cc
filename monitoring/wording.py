"""The words of the drift summary page (`monitoring.summary`), in English and Russian.

Headings and labels (`TEXT`), the verdict and its findings in sentences (`finding_sentence`, from the
same `monitoring.drift.Finding`s drift.json's reason is made of), and each feature's meaning
(`feature_meaning`): in English the feature schema's own description; in Russian a translation keyed by
the same name helpers the schema builds its names with (`partner_churn.domain`), so a configured window
or event type is named as the schema names it. A feature without a Russian meaning here (a name this
module does not know) shows the schema's English description rather than nothing; a test checks that
every feature of the default schema has one. Numbers, plurals and periods come from `retention.wording`.
"""

from __future__ import annotations

from collections.abc import Sequence

from features.schema import FIRST_EVENT_TYPES, RECENCY_TYPES, FeatureSpec
from monitoring.drift import DriftResult, Finding
from partner_churn.config import Config
from partner_churn.domain import (
    ACTIVE_DAY_WINDOWS,
    active_days_feature,
    count_feature,
    funnel_feature,
    onboarding_feature,
    payout_amount_feature,
    revenue_feature,
    revenue_share_feature,
    slope_feature,
    trend_feature,
)
from retention.wording import count, event_words, format_date, format_number, format_percent, period, plural_ru, window
from serving.words import TEXT as REPORT_TEXT

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Drift check of the scoring models",
        "scoring": "Scoring of {date}",
        "reference": "compared with the training rows of the cutoffs {first} – {last} ({cutoffs})",
        "reference_unknown": "compared with the models' training rows",
        "models": "Models",
        "verdict": "Verdict",
        "scores": "Scores",
        "score": "Score",
        "change": "Change",
        "bar": "Bar",
        "drifted": "drifted",
        "within": "within its bar",
        "unavailable": "not scored (no model)",
        "features_drifted": "Features that drifted ({n} of {total})",
        "features_none": "No feature drifted: the nearest to their bar",
        "change_line": "Change {score} against a bar of {bar}: {state}.",
        "below": "below the bar",
        "median": "Median {before} and mean {before_mean} in the training rows; {after} and {after_mean} now.",
        "missing": "Missing: {before} in the training rows, {after} now.",
        "reference_only": "It had values in the training rows and has none now.",
        "current_only": "It has values now and had none in the training rows.",
        "before": "training rows",
        "after": "now",
        "other": "other",
        "chart": "{feature}: share of partners, training rows and now",
        "how": "How to read this",
        "how_change": (
            "Change: the distance between a column's distribution in the training rows and now (Wasserstein distance in "
            "standard deviations of the training values for numbers, Jensen-Shannon distance for categories). Its bar is the "
            "larger of the configured threshold ({numerical} for numbers, {categorical} for categories, {score} for scores) and "
            "{factor} × how much the column moved on its own during training."
        ),
        "how_rows": (
            "Compared: {current} active partners of the scoring{sampled} against {reference} training rows drawn to the same "
            "mix of tenure; the training rows cover the tenure of {coverage} of active partners."
        ),
        "sampled": " (a sample of {n})",
        "run": "The training rows are the reference sample of MLflow run {run_id}.",
        "how_alarm": (
            "Retrain when {alarm} of the {total} features drift or a score drifts; watch from {watch} features or from {fraction} of a score's bar."
        ),
        "full_report": "Every column with Evidently's charts:",
        "full_report_note": "(large; needs JavaScript). The figures behind this page:",
    },
    "ru": {
        "title": "Проверка дрейфа моделей",
        "scoring": "Расчёт на {date}",
        "reference": "сравнение с обучающими строками срезов {first} – {last} ({cutoffs})",
        "reference_unknown": "сравнение с обучающими строками моделей",
        "models": "Модели",
        "verdict": "Вердикт",
        "scores": "Оценки",
        "score": "Оценка",
        "change": "Сдвиг",
        "bar": "Порог",
        "drifted": "дрейф",
        "within": "в пределах порога",
        "unavailable": "не рассчитана (нет модели)",
        "features_drifted": "Признаки с дрейфом ({n} из {total})",
        "features_none": "Дрейфа признаков нет: ближайшие к порогу",
        "change_line": "Сдвиг {score} при пороге {bar}: {state}.",
        "below": "ниже порога",
        "median": "Медиана и среднее: {before} и {before_mean} на обучении, {after} и {after_mean} сейчас.",
        "missing": "Пропуски: {before} на обучении, {after} сейчас.",
        "reference_only": "На обучении у признака были значения, сейчас их нет.",
        "current_only": "Сейчас у признака есть значения, на обучении их не было.",
        "before": "обучение",
        "after": "сейчас",
        "other": "прочие",
        "chart": "{feature}: доля партнёров на обучении и сейчас",
        "how": "Как это читать",
        "how_change": (
            "Сдвиг — расстояние между распределением столбца на обучающих строках и сейчас (расстояние Вассерштейна в "
            "стандартных отклонениях обучающих значений для чисел, расстояние Йенсена — Шеннона для категорий). Порог — "
            "большее из настроенного порога ({numerical} для чисел, {categorical} для категорий, {score} для оценок) и "
            "{factor} × того, насколько столбец сдвигался сам по себе за время обучения."
        ),
        "how_rows": (
            "Сравнивались активные партнёры расчёта ({current}{sampled}) с обучающими строками ({reference}), подобранными "
            "под тот же состав по стажу; обучающие строки покрывают стаж {coverage} активных партнёров."
        ),
        "sampled": ", выборка из {n}",
        "run": "Обучающие строки — эталонная выборка запуска MLflow {run_id}.",
        "how_alarm": (
            "Переобучить, когда дрейф есть у {alarm} из {total} {of_features} или у одной из оценок; наблюдать — от {watch} признаков "
            "или от {fraction} порога оценки."
        ),
        "full_report": "Все столбцы с графиками Evidently:",
        "full_report_note": "(большой файл, нужен JavaScript). Числа этой страницы:",
    },
}
"""Headings and labels of the summary page."""

VERDICTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "keep": ("Keep", "The models can stay as they are."),
        "watch": ("Watch", "Nothing to do yet: look again at the next scoring."),
        "retrain": ("Retrain", "Train the models again on recent data (partner-churn retrain); the check exits with code 1 for schedulers."),
    },
    "ru": {
        "keep": ("Оставить", "Модели можно оставить как есть."),
        "watch": ("Наблюдать", "Пока ничего делать не нужно: проверьте снова на следующем расчёте."),
        "retrain": ("Переобучить", "Переобучите модели на свежих данных (partner-churn retrain); для планировщика проверка завершается с кодом 1."),
    },
}
"""Verdict -> (the word, what to do), per language."""

CUTOFF_NOUN = {"en": ("cutoff", "cutoffs"), "ru": ("срез", "среза", "срезов")}
CHAMPION = {"en": ("(champion)", "(no longer champion)"), "ru": ("(чемпион)", "(уже не чемпион)")}

SCORE_MEANINGS = {
    "en": {
        "deactivation_risk": "The risk model's probability that an active partner has no qualifying event in the next {days} days.",
        "upgrade_potential": "The potential model's probability that a partner is on a higher segment of the ladder in {days} days.",
    },
    "ru": {
        "deactivation_risk": "Вероятность по модели риска, что у активного партнёра не будет ни одного целевого действия за следующие {days}.",
        "upgrade_potential": "Вероятность по модели потенциала, что через {days} партнёр будет в более высоком сегменте лестницы.",
    },
}


def check_page_lang(lang: str) -> None:
    if lang not in TEXT:
        raise ValueError(f"drift summary language {lang!r}: expected one of {sorted(TEXT)}")


def score_name(score: str, lang: str) -> str:
    """'Deactivation risk' / 'Риск ухода': as the scoring's report names the score."""
    return REPORT_TEXT[lang].get(score, score)


def score_meaning(score: str, horizon_days: int, lang: str) -> str:
    days = count(horizon_days, "day", lang) if lang == "ru" else str(horizon_days)
    return SCORE_MEANINGS[lang].get(score, "").format(days=days)


def of_features_ru(total: int) -> str:
    """'признака' / 'признаков' after 'из N' (из 81 признака, из 80 признаков)."""
    return plural_ru(total, "признака", "признаков", "признаков")


def date_text(stamp: str, lang: str) -> str:
    """2026-07-01 / 01.07.2026 (`retention.wording.format_date`); an empty or unreadable stamp as it is."""
    return format_date(stamp, lang) or stamp


def decimal(value: float, lang: str, decimals: int = 2) -> str:
    return "—" if value != value else format_number(value, lang, decimals=decimals)


def share(value: float, lang: str) -> str:
    """A share as a percentage: 95%, under 1%, 0%."""
    return "—" if value != value else format_percent(100 * value, lang)


def cutoffs_text(n: int, lang: str) -> str:
    forms = CUTOFF_NOUN[lang]
    noun = plural_ru(n, *forms) if lang == "ru" else forms[0] if n == 1 else forms[1]
    return f"{format_number(n, lang)} {noun}"


# --------------------------------------------------------------------------- the verdict in sentences


def finding_sentence(finding: Finding, result: DriftResult, watch_fraction: float, lang: str) -> str:
    """One finding of `monitoring.drift.drift_findings` as a sentence for people."""
    total = len(result.features)
    n = result.drifted_features
    alarm, watch = result.features_for_share(result.drift_share_threshold), result.features_for_share(watch_fraction * result.drift_share_threshold)
    names = ", ".join(c.column for c in result.drifted_columns()[:3]) + ("…" if n > 3 else "")
    score = next((c for c in result.scores if c.column == finding.column), None)
    en = lang == "en"
    if finding.kind in ("features_drifted", "features_near", "features_few"):
        if en:
            head = f"{n} of the {total} features the models read changed beyond {'its' if n == 1 else 'their'} bar ({names})"
            tail = {
                "features_drifted": f"; the alarm is at {alarm}: the partners now differ from those the models learned from.",
                "features_near": f"; the alarm is at {alarm}, and this is close to it.",
                "features_few": f", too few to matter: watching starts at {watch}, the alarm at {alarm}.",
            }[finding.kind]
        else:
            verb = plural_ru(n, "изменился", "изменились", "изменились")
            head = f"{n} из {total} {of_features_ru(total)}, которые читают модели, {verb} сильнее порога ({names})"
            tail = {
                "features_drifted": f"; тревога — от {alarm}: партнёры теперь не такие, как те, на ком учились модели.",
                "features_near": f"; тревога — от {alarm}, и до неё близко.",
                "features_few": f" — это немного: наблюдение начинается с {watch}, тревога — с {alarm}.",
            }[finding.kind]
        return head + tail
    if finding.kind in ("score_drifted", "score_near") and score is not None:
        value, bar, name = decimal(score.drift_score, lang, 3), decimal(score.threshold, lang, 3), score_name(score.column, lang)
        if finding.kind == "score_drifted":
            return (
                f"{name} scores moved {value}, beyond their bar of {bar}: the models no longer score partners as they did in training."
                if en
                else f"Оценка «{name}» сдвинулась на {value} при пороге {bar}: модели оценивают партнёров не так, как на обучении."
            )
        fraction = share(watch_fraction, lang)
        return (
            f"{name} scores moved {value}, over {fraction} of their bar of {bar}."
            if en
            else f"Оценка «{name}» сдвинулась на {value} — больше {fraction} порога {bar}."
        )
    if finding.kind == "low_coverage":
        coverage, oldest = share(result.sampling.coverage, lang), count(result.sampling.max_reference_tenure_days, "day", lang)
        return (
            f"Only {coverage} of active partners are no older than the partners the models learned from (the oldest had been in the "
            f"program {oldest}): for the rest the models extrapolate."
            if en
            else f"Лишь {coverage} активных партнёров не старше тех, на ком учились модели (самый старший был в программе {oldest}): "
            "для остальных модели экстраполируют."
        )
    return finding.line


def all_clear(lang: str) -> str:
    """The 'why' of a keep with nothing to note."""
    return (
        "No feature and no score changed beyond its bar: the partners look like those the models learned from."
        if lang == "en"
        else "Ни один признак и ни одна оценка не сдвинулись сильнее порога: партнёры такие же, как те, на ком учились модели."
    )


# --------------------------------------------------------------------------- what a feature means


def feature_meaning(spec: FeatureSpec, config: Config, lang: str) -> str:
    """What a feature measures, in a sentence: the schema's description in English, its translation in Russian."""
    if lang == "en":
        return spec.description
    return russian_meanings(config).get(spec.name, spec.description)


def russian_meanings(config: Config) -> dict[str, str]:
    """Feature name -> its meaning in Russian, for this config's windows, vocabulary and attributes."""
    f = config.features
    meanings = {
        "tenure_days": "Дней с регистрации.",
        onboarding_feature(config): f"Целевых действий за {period('first', f.onboarding_hours, 'hour', 'ru')} после регистрации.",
        "active_day_gap_mean": "Средний промежуток в днях между соседними активными днями; пусто, если активных дней меньше двух.",
        "active_day_gap_std": "Разброс (стандартное отклонение) промежутков между соседними активными днями; пусто, если активных дней меньше трёх.",
        "recency_to_usual_gap": "Дни с последнего целевого действия, делённые на средний промежуток; пусто без среднего промежутка.",
        funnel_feature("lead_per_click", config): f"Лидов на клик за {window(f.funnel_window_days, 'ru')}; пусто без кликов.",
        funnel_feature("sale_per_lead", config): f"Продаж на лид за {window(f.funnel_window_days, 'ru')}; пусто без лидов.",
        "pending_payout_amount": "Запрошенные минус выплаченные суммы выплат, не меньше нуля: сколько партнёр ждёт.",
        "pending_payout_requests": "Запрошенные минус выплаченные выплаты (число), не меньше нуля.",
        "unpaid_commission": "Продажи × ставка комиссии минус выплаченное, не меньше нуля; пусто без ставки комиссии.",
        "survey_score_last": "Последний ответ на опрос удовлетворённости (0–10); пусто без ответа.",
        "survey_score_change": "Последний ответ на опрос минус предыдущий; пусто, если ответов меньше двух.",
        "days_since_last_survey": "Дней с последнего ответа на опрос; пусто без ответа.",
        slope_feature(config): f"Наклон числа активных дней в неделю за {period('last', f.slope_weeks, 'week', 'ru')} (больше нуля — рост).",
        "partner_type": "Тип партнёра (заявленный атрибут).",
        "country": "Страна партнёра (заявленный атрибут).",
        "commission_rate": "Ставка комиссии партнёра (заявленный атрибут).",
    }
    first = {"link": "первой ссылки", "lead": "первого лида", "sale": "первой продажи"}
    for suffix, event_type in FIRST_EVENT_TYPES.items():
        what = first.get(suffix, f"первого события «{event_type}»")
        meanings[f"days_to_first_{suffix}"] = f"Дней от регистрации до {what}; пусто, если такого ещё не было."
    last = {
        "activity": "последнего целевого действия",
        "login": "последнего входа",
        "click": "последнего клика",
        "lead": "последнего лида",
        "sale": "последней продажи",
        "payout": "последней выплаты",
        "payout_request": "последнего запроса выплаты",
        "training": "последнего пройденного урока",
    }
    for suffix, recency_type in RECENCY_TYPES.items():
        what = last.get(suffix, f"последнего события «{recency_type}»")
        meanings[f"days_since_last_{suffix}"] = f"Дней с {what}; пусто, если такого не было."
    for event_type in config.data.event_types:
        for w in f.windows_days:
            meanings[count_feature(event_type, w)] = f"Число {event_words(event_type).ru[2]} за {window(w, 'ru')}."  # a type of its own: событий «x»
    for w in f.windows_days:
        meanings[revenue_feature(w)] = f"Сумма продаж за {window(w, 'ru')}."
        meanings[payout_amount_feature(w)] = f"Сумма выплат за {window(w, 'ru')}."
    for w in ACTIVE_DAY_WINDOWS:
        meanings[active_days_feature(w)] = f"Сколько дней из последних {w} было с целевым действием."
    days = count(f.trend_window_days, "day", "ru")
    for what, words in (("activity", "активности"), ("click", "кликов"), ("revenue", "выручки")):
        meanings[trend_feature(what, config)] = (
            f"Рост или спад {words}: (последние {days} − предыдущие {days}) / их сумма, от −1 до +1; 0, если оба нуля."
        )
    for w in f.revenue_share_windows_days:
        meanings[revenue_share_feature(w)] = f"Доля партнёра в выручке программы за {window(w, 'ru')}."
    for name, column_type in config.data.partner_attributes.items():
        meanings.setdefault(name, f"Заявленный атрибут партнёра {name} ({column_type}).")
    return meanings


def unknown_meanings(schema: Sequence[FeatureSpec], config: Config) -> list[str]:
    """Features of `schema` this module has no Russian meaning for (they show the English description)."""
    known = russian_meanings(config)
    return [spec.name for spec in schema if spec.name not in known]
