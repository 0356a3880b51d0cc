"""Batch scoring: the registered models and the same feature code -> one scored row per partner.

For every partner signed up before the cutoff: deactivation risk (partners active at the cutoff),
upgrade potential, segment, downgrade warning, bands and flags, value at risk, one primary action,
reasons in words, and what changed since the previous scoring (its entry in the score history:
segment and risk then, the risk's change and trend arrow, since when the partner is in the high band). Sorted so the first rows are where an
hour of a manager's time is worth most. Pure: frames and models in, a frame out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pipeline import build_features
from partner_churn.config import Config
from partner_churn.domain import LAST_ACTIVITY, revenue_feature, segment_revenue_feature, sort_risk_list, window_nearest
from retention.actions import ActionTable
from scoring.scores import ScoringModels, typical_workhorse_revenue
from serving.core import PreviousScoring, compare_with_previous, explain, score_columns

__all__ = ["RISK_LIST_COLUMNS", "ScoringModels", "detail_columns", "score_partners"]

RISK_LIST_COLUMNS = [
    "partner_id",
    "segment",
    "previous_segment",
    "deactivation_risk",
    "risk_band",
    "risk_trend",
    "previous_risk",
    "risk_change",
    "weeks_in_high_band",
    "high_band_since",
    "upgrade_potential",
    "value_at_risk",
    "action",
    "reasons",
    "model_version",
    "trained_through",
    "scored_at",
]
"""The risk list's columns, in the order managers read them; more detail follows them."""


def detail_columns(config: Config) -> list[str]:
    """The risk list's columns after RISK_LIST_COLUMNS; revenue over about a month and over the segment window."""
    revenue = list(dict.fromkeys([revenue_feature(window_nearest(config, 30)), segment_revenue_feature(config)]))
    return [
        "as_of",
        "reasons_source",
        "segment_change",
        "downgrade_warning",
        "potential_band",
        "expected_revenue",
        "action_title",
        "action_description",
        "channel",
        "owner",
        "due_in_days",
        "personal_contact",
        "action_basis",
        "expected_saved_revenue",
        "commission_overdue",
        "no_onboarding_activity",
        "falling_trend",
        LAST_ACTIVITY,
        *revenue,
        "tenure_days",
    ]


def score_partners(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous: PreviousScoring | None,
    scored_at: pd.Timestamp | None = None,
    surveys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every partner at `as_of` and compare with `previous` (`serving.history.previous_scoring`; None
    for the first scoring); `surveys` (the contract's optional table) informs the survey features."""
    now = build_features(partners, events, [as_of], config, surveys=surveys)
    return score_features(now, as_of, config, models, actions, previous=previous, scored_at=scored_at)


def score_features(
    now: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous: PreviousScoring | None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """`score_partners` from the program's features at `as_of` (`build_features`, or the dask engine's
    `build_features_on`): scores, segment changes, actions within capacity, reasons, the risk list's order."""
    scored_at = scored_at or pd.Timestamp.now(tz="UTC")
    columns = RISK_LIST_COLUMNS + detail_columns(config)
    if now.empty:
        return pd.DataFrame(columns=columns)
    now = now.reset_index(drop=True)

    scored = score_columns(
        now,
        models,
        actions,
        config,
        lang=config.scoring.lang,
        typical_workhorse_revenue=typical_workhorse_revenue(now, config),
        capacity=True,
    )
    added = {name: values for name, values in scored.items() if name != "active" and name not in now.columns}
    now = pd.concat([now, pd.DataFrame(added, index=now.index)], axis=1)
    changes = compare_with_previous(now, previous, as_of, config)
    now = pd.concat([now, pd.DataFrame(changes, index=now.index)], axis=1)
    now["weeks_in_high_band"] = now["weeks_in_high_band"].astype("Int64")
    now = sort_risk_list(now)
    now["reasons"], now["reasons_source"] = _reasons(now, models, config)
    now["model_version"] = models.version_label(config)
    now["trained_through"] = models.trained_through()
    now["scored_at"] = scored_at
    return now[columns]


def _reasons(scored: pd.DataFrame, models: ScoringModels, config: Config) -> tuple[list[str], np.ndarray]:
    """Reasons in words and where they come from, per row (rows sorted by priority).

    TreeSHAP (about 0.3-0.5 ms a row here) is spent where a model score decides what a manager does,
    and on the `scoring.model_reasons_top` rows a manager reads first; see `explain`.
    """
    top = np.arange(len(scored)) < config.scoring.model_reasons_top
    texts, source = explain(scored, models, config, by_model=top, lang=config.scoring.lang)
    return [" | ".join(found) for found in texts], source
