"""Batch scoring: the registered models and the same feature code -> one scored row per partner.

For every partner signed up before the cutoff: deactivation risk (partners active at the cutoff),
upgrade potential, segment and the segment at the previous scoring, downgrade warning, bands and
flags, value at risk, one primary action, and reasons in words. Sorted so the first rows are where an
hour of a manager's time is worth most. Pure: frames and models in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import build_features
from partner_churn.config import Config
from segments.actions import ActionTable, add_bands_and_flags, assign_actions
from segments.reasons import facts_for, reasons_for
from training.model import TrainedModel

RISK_LIST_COLUMNS = [
    "partner_id", "segment", "previous_segment", "deactivation_risk", "risk_band", "upgrade_potential",
    "value_at_risk", "action", "reasons", "model_version", "scored_at",
]
"""The risk list's columns, in the order managers read them; more detail follows them."""
DETAIL_COLUMNS = [
    "as_of", "reasons_source", "segment_change", "downgrade_warning", "potential_band", "expected_revenue", "action_title",
    "action_description", "channel", "owner", "due_in_days", "commission_overdue", "no_onboarding_activity",
    "falling_trend", "days_since_last_activity", "revenue_30d", "revenue_90d", "tenure_days",
]
LOWER_RUNGS = ("newbie", "sleeper")


@dataclass(frozen=True)
class ScoringModels:
    """The two models that score, with the registered versions that name them in every output."""

    risk: TrainedModel
    risk_version: str
    potential: TrainedModel
    potential_version: str

    def names(self, config: Config) -> dict[str, str]:
        """Per target, the registered name and version, e.g. 'partner-churn-deactivation-risk:v3'."""
        return {
            "deactivation_risk": f"{config.training.risk_model_name}:v{self.risk_version}",
            "upgrade_potential": f"{config.training.potential_model_name}:v{self.potential_version}",
        }

    def version_label(self, config: Config) -> str:
        """e.g. 'partner-churn-deactivation-risk:v3 partner-churn-upgrade-potential:v2'."""
        return " ".join(self.names(config).values())


def score_partners(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous_as_of: pd.Timestamp,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Score every partner at `as_of`; `previous_as_of` is the last scoring, for segment changes."""
    scored_at = scored_at or pd.Timestamp.now(tz="UTC")
    features = build_features(partners, events, [previous_as_of, as_of], config)
    now = features[features["as_of"] == as_of].reset_index(drop=True)
    before = features[features["as_of"] == previous_as_of].set_index("partner_id")["segment"]
    if now.empty:
        return pd.DataFrame(columns=RISK_LIST_COLUMNS + DETAIL_COLUMNS)

    active = now["active_days_30"].to_numpy() > 0
    risk = np.full(len(now), np.nan)
    if active.any():
        risk[active] = models.risk.predict(now[active])
    now["deactivation_risk"] = risk
    now["upgrade_potential"] = models.potential.predict(now)
    now["previous_segment"] = now["partner_id"].map(before).astype(object)
    now["segment_change"] = np.where(
        now["previous_segment"].isna(), "new", np.where(now["previous_segment"] == now["segment"], "same", now["previous_segment"].astype(str) + " -> " + now["segment"])
    )
    for name, values in value_at_risk(now, config, typical_workhorse_revenue=typical_workhorse_revenue(now, config)).items():
        now[name] = values
    now = add_bands_and_flags(
        now, config.scoring,
        onboarding_column=f"onboarding_events_{config.features.onboarding_hours}h",
        trend_column=f"activity_trend_{config.features.trend_window_days}d",
    )
    now = pd.concat([now, assign_actions(now, actions, config.scoring.lang)], axis=1)
    now = now.sort_values(["value_at_risk", "deactivation_risk", "upgrade_potential"], ascending=False, kind="stable", na_position="last")
    now = now.reset_index(drop=True)
    now["reasons"], now["reasons_source"] = _reasons(now, models, config)
    now["model_version"] = models.version_label(config)
    now["scored_at"] = scored_at
    return now[RISK_LIST_COLUMNS + DETAIL_COLUMNS]


def value_at_risk(columns: Mapping[str, Any], config: Config, *, typical_workhorse_revenue: float) -> dict[str, np.ndarray]:
    """Money at stake over the horizon: risk x expected revenue; for Newbies and Sleepers, potential x
    the expected value of climbing to Workhorse (the typical Workhorse's horizon revenue above theirs).

    `columns` (a frame or a mapping of column name to values) holds `segment`, `deactivation_risk`,
    `upgrade_potential` and the segment window's revenue; returns `expected_revenue` and `value_at_risk`.
    """
    expected = expected_horizon_revenue(np.asarray(columns[f"revenue_{config.segments.revenue_window_days}d"], dtype=float), config)
    upgrade_value = np.clip(typical_workhorse_revenue - expected, 0.0, None)
    lower_rung = np.isin(np.asarray(columns["segment"], dtype=object), LOWER_RUNGS)
    at_risk = np.nan_to_num(np.asarray(columns["deactivation_risk"], dtype=float), nan=0.0) * expected
    potential = np.asarray(columns["upgrade_potential"], dtype=float)
    return {"expected_revenue": expected, "value_at_risk": np.where(lower_rung, potential * upgrade_value, at_risk)}


def typical_workhorse_revenue(scored: pd.DataFrame, config: Config) -> float:
    """The median Workhorse's expected horizon revenue in a scored population (0 without Workhorses)."""
    workhorses = scored.loc[scored["segment"] == "workhorse", f"revenue_{config.segments.revenue_window_days}d"]
    return float(expected_horizon_revenue(workhorses, config).median()) if len(workhorses) else 0.0


def expected_horizon_revenue(window_revenue: Any, config: Config) -> Any:
    """Revenue over the segment window scaled to the label horizon (90-day revenue x 30 / 90)."""
    return window_revenue * config.labels.horizon_days / config.segments.revenue_window_days


def _reasons(scored: pd.DataFrame, models: ScoringModels, config: Config) -> tuple[list[str], np.ndarray]:
    """Reasons in words and where they come from, per row (rows sorted by priority).

    TreeSHAP (about 0.3-0.5 ms a row here) is spent where a model score decides what a manager does,
    and on the `scoring.model_reasons_top` rows a manager reads first; see `explain`.
    """
    top = np.arange(len(scored)) < config.scoring.model_reasons_top
    texts, source = explain(scored, models, config, by_model=top, lang=config.scoring.lang)
    return [" | ".join(found) for found in texts], source


def explain(
    columns: Mapping[str, Any], models: ScoringModels, config: Config, *, by_model: np.ndarray, lang: str
) -> tuple[list[list[str]], np.ndarray]:
    """Up to `scoring.reasons_per_partner` reasons per row, and their source per row.

    The risk model explains partners in the medium or high risk band; the potential model those with
    high potential. Rows in `by_model` are explained by a model in any case (the risk model if the
    partner is active and its potential is not high, else the potential model). Every other row's action
    follows from segment and flags; its reasons are its own facts (no activity for N days, no revenue,
    tenure), marked 'facts'. `columns` is a scored frame or a mapping of column name to values.
    """
    k = config.scoring.reasons_per_partner
    risk_band = np.asarray(columns["risk_band"], dtype=object)
    potential_high = np.asarray(columns["potential_band"], dtype=object) == "high"
    by_risk = np.isin(risk_band, ["medium", "high"]) | (by_model & (risk_band != "inactive") & ~potential_high)
    by_potential = ~by_risk & (potential_high | by_model)
    by_facts = ~(by_risk | by_potential)
    texts: list[list[str]] = [[] for _ in range(len(risk_band))]
    source = np.full(len(risk_band), "facts", dtype=object)
    for rows, found, name in (
        (by_risk, lambda part: reasons_for(models.risk, part, k=k, lang=lang), "risk_model"),
        (by_potential, lambda part: reasons_for(models.potential, part, k=k, lang=lang), "potential_model"),
        (by_facts, lambda part: facts_for(part, k=k, lang=lang), "facts"),
    ):
        if rows.any():
            for i, sentences in zip(np.flatnonzero(rows), found(_take(columns, rows))):
                texts[i] = sentences
            source[rows] = name
    return texts, source


def _take(columns: Mapping[str, Any], rows: np.ndarray) -> Mapping[str, Any]:
    """The selected rows of a frame or of a mapping of column name to values."""
    if isinstance(columns, pd.DataFrame):
        return columns[rows]
    return {name: np.asarray(values)[rows] for name, values in columns.items()}
