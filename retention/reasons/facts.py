"""Reasons from a partner's own facts, without a model (`facts_for`), and the facts that speak first
(`fact_features`)."""

from __future__ import annotations

from collections.abc import Sequence

from partner_churn.config import Config
from partner_churn.domain import ACTIVE_DAYS_30, DETRACTOR_SCORE, LAST_ACTIVITY, SURVEY_WINDOW_DAYS, segment_revenue_feature
from retention.reasons.feature_names import SURVEY_SCORE
from retention.reasons.selection import as_records, describe_feature
from retention.wording import check_lang
from training.model import Rows


def fact_features(config: Config) -> tuple[str, ...]:
    """What a partner's own history says first, for partners whose action no model score decides.

    Tenure is not among them: how long a partner has been in the program is no reason a manager acts on.
    The latest survey answer comes last, and first where it is a detractor's of the last SURVEY_WINDOW_DAYS
    (`facts_for`): "gave 3 of 10 in the last survey" is what the call is about.
    """
    return (LAST_ACTIVITY, "days_since_last_sale", ACTIVE_DAYS_30, segment_revenue_feature(config), SURVEY_SCORE)


def facts_for(rows: Rows, *, names: Sequence[str], k: int = 3, lang: str = "en") -> list[list[str]]:
    """Reasons from the partner's own facts (no model): the first k of `names` that say something.

    Used where the action follows from the segment and flags rather than a model score, so that no
    TreeSHAP time is spent where it would explain nothing a manager acts on.
    """
    check_lang(lang)
    present = [name for name in names if name in rows]
    context = [c for c in ("active_day_gap_mean", "survey_score_change", "days_since_last_survey") if c in rows and c not in present]
    found: list[list[str]] = []
    for row in as_records({name: rows[name] for name in present + context}):
        sentences: list[str] = []
        for name in sorted(present, key=lambda n: n != SURVEY_SCORE or not _recent_detractor(row)):
            sentence = describe_feature(name, row, target="deactivation_risk", lang=lang)
            if sentence and sentence not in sentences:
                sentences.append(sentence)
            if len(sentences) == k:
                break
        found.append(sentences)
    return found


def _recent_detractor(row: dict) -> bool:
    score, age = row.get(SURVEY_SCORE), row.get("days_since_last_survey")
    return score is not None and age is not None and score <= DETRACTOR_SCORE and age <= SURVEY_WINDOW_DAYS
