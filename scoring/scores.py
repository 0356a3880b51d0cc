"""The scoring core: the models that score and the money at stake, below actions and reasons.

`ScoringModels` is the pair of trained models in use with the registered versions that name them (each
may be missing, with why); `value_at_risk` turns scores into money at stake over the horizon. Actions
and reasons (`retention/`) and the one scoring function batch and service share (`serving.core`) build
on these. Pure: columns in, arrays out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from partner_churn.config import Config
from partner_churn.domain import TARGETS, UNAVAILABLE, days_past_model_age, model_name, segment_revenue_feature
from partner_churn.errors import InputError
from training.model import TrainedModel
from training.uplift import MeasuredActions

LOWER_RUNGS = ("newbie", "sleeper")
"""Segments whose value at stake is the climb to Workhorse, not the revenue they make now."""


@dataclass(frozen=True)
class ScoringModels:
    """The models that score, with the registered versions that name them in every output.

    A model may be missing (`None`): `unavailable` then says why, in one line, per target."""

    risk: TrainedModel | None
    risk_version: str | None
    potential: TrainedModel | None
    potential_version: str | None
    unavailable: Mapping[str, str] = field(default_factory=dict)
    """Target -> why it is not scored (no champion, not trained: too few upgrades, ...)."""
    notices: Mapping[str, str] = field(default_factory=dict)
    """Target -> what a reader of the scores should know, e.g. that the version in use is not the champion."""
    pair: str | None = None
    """The pair record these models are, in force when loaded (None: a pinned version, or no pair record yet)."""
    measured: MeasuredActions | None = None
    """The measured actions in force (`partner-churn effects`), by which actions are proposed where the log has
    evidence; None: every action comes from the action table's rules."""
    measured_version: str | None = None
    """Their registered version."""

    def __post_init__(self) -> None:
        if self.risk is None and self.potential is None:
            raise InputError("no model to score with: " + ("; ".join(self.unavailable.values()) or "both models are missing"))

    def model(self, target: str) -> TrainedModel | None:
        return self.risk if target == "deactivation_risk" else self.potential

    def version(self, target: str) -> str | None:
        return self.risk_version if target == "deactivation_risk" else self.potential_version

    @property
    def any_model(self) -> TrainedModel:
        """A model present (risk first): what the feature list and the program snapshot are read from."""
        found = self.risk or self.potential
        assert found is not None
        return found

    def names(self, config: Config) -> dict[str, str]:
        """Per target, the registered name and version, e.g. 'partner-churn-deactivation-risk:v3', or
        'partner-churn-upgrade-potential:unavailable'."""
        return {
            target: f"{model_name(target, config)}:" + (f"v{self.version(target)}" if self.model(target) is not None else UNAVAILABLE)
            for target in TARGETS
        }

    def measured_warning(self, as_of: pd.Timestamp, config: Config) -> str:
        """One line when the measured actions learned from actions at or after `as_of` (a backfill scoring that
        would propose actions by evidence it could not have had)."""
        if self.measured is None or not self.measured.measured_through:
            return ""
        through = pd.Timestamp(self.measured.measured_through)
        if through < as_of:
            return ""
        return (
            f"the measured actions in use ({self.measured_label(config)}) learned from actions through {through:%Y-%m-%d}, "
            f"after this scoring date {as_of:%Y-%m-%d}: its measured actions rest on later evidence"
        )

    def measured_label(self, config: Config) -> str:
        """e.g. 'partner-churn-action-uplift:v2'; '' when the action table chooses every action."""
        return f"{config.effects.uplift_model_name}:v{self.measured_version}" if self.measured is not None else ""

    def version_label(self, config: Config) -> str:
        """e.g. 'partner-churn-deactivation-risk:v3 partner-churn-upgrade-potential:v2'."""
        return " ".join(self.names(config).values())

    def trained_through(self) -> str:
        """The oldest end of newest training labels among the models in use (ISO date; '' when unknown):
        how far the scores' knowledge of the program reaches."""
        present = [m for m in (self.risk, self.potential) if m is not None]
        if any(not m.trained_through for m in present):
            return ""  # a model saved before the date was recorded: unknown, not the other model's date
        return min(m.trained_through[:10] for m in present)

    def age_warning(self, as_of: pd.Timestamp, config: Config) -> str:
        """One line when the models learned from labels older than `scoring.max_model_age_days` before `as_of`."""
        through = self.trained_through()
        if not through:
            return ""
        age = days_past_model_age(through, as_of, config)
        if age is None:
            return ""
        return (
            f"the models learned from labels through {through}, {age} days before {as_of:%Y-%m-%d} (more than "
            f"scoring.max_model_age_days, {config.scoring.max_model_age_days}): they have not seen the program's recent behaviour"
        )

    def features(self) -> list[str]:
        """Every feature a present model reads, in the first model's order."""
        names = list(self.any_model.features)
        for target in TARGETS:
            model = self.model(target)
            names += [n for n in (model.features if model else []) if n not in names]
        return names


def value_at_risk(columns: Mapping[str, Any], config: Config, *, typical_workhorse_revenue: float) -> dict[str, np.ndarray]:
    """Money at stake over the horizon: risk x expected revenue; for Newbies and Sleepers, potential x
    the expected value of climbing to Workhorse (the typical Workhorse's horizon revenue above theirs).
    A score that is missing (inactive, or its model unavailable) puts nothing at stake.

    `columns` (a frame or a mapping of column name to values) holds `segment`, `deactivation_risk`,
    `upgrade_potential` and the segment window's revenue; returns `expected_revenue` and `value_at_risk`.
    """
    expected = expected_horizon_revenue(np.asarray(columns[segment_revenue_feature(config)], dtype=float), config)
    upgrade_value = np.clip(typical_workhorse_revenue - expected, 0.0, None)
    lower_rung = np.isin(np.asarray(columns["segment"], dtype=object), LOWER_RUNGS)
    at_risk = np.nan_to_num(np.asarray(columns["deactivation_risk"], dtype=float), nan=0.0) * expected
    potential = np.nan_to_num(np.asarray(columns["upgrade_potential"], dtype=float), nan=0.0)
    return {"expected_revenue": expected, "value_at_risk": np.where(lower_rung, potential * upgrade_value, at_risk)}


def workhorse_revenues(now: pd.DataFrame, config: Config) -> np.ndarray:
    """The expected horizon revenue of each Workhorse among `now`'s partners (of one part or the whole program),
    whose median is the typical Workhorse's (`typical_workhorse_revenue`)."""
    return expected_horizon_revenue(now.loc[now["segment"] == "workhorse", segment_revenue_feature(config)].to_numpy(dtype=float), config)


def typical_workhorse_revenue(workhorse_revenues: np.ndarray) -> float:
    """The median of a population's Workhorses' expected horizon revenues (0 without Workhorses)."""
    return float(pd.Series(workhorse_revenues, dtype=float).median()) if len(workhorse_revenues) else 0.0


def expected_horizon_revenue(window_revenue: Any, config: Config) -> Any:
    """Revenue over the segment window scaled to the label horizon (90-day revenue x 30 / 90)."""
    return window_revenue * config.labels.horizon_days / config.segments.revenue_window_days
