"""Rolling-origin datasets: features and labels at many cutoffs, split strictly by time.

Splits follow each other in time: train < validation (early stopping) < calibration < backtest. Between
two splits lies an embargo of at least the horizon H, so no training label (which looks at [t, t + H))
overlaps the period a later split is judged on: rows of one partner never carry the future across a
split. All cutoffs are UTC midnights, `training.cutoff_frequency_days` apart, and only cutoffs whose
horizon has been observed (t + H <= end of data) are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline import build_features, build_labels
from partner_churn.config import Config
from partner_churn.errors import InputError

SPLITS = ("train", "validation", "calibration", "backtest")
MIN_HISTORY_DAYS = 60
"""The first cutoff lies at least this long after the first sign-up, so features have a history."""


@dataclass(frozen=True)
class CutoffPlan:
    """Cutoffs of each split, oldest first."""

    train: list[pd.Timestamp]
    validation: list[pd.Timestamp]
    calibration: list[pd.Timestamp]
    backtest: list[pd.Timestamp]

    def split_of(self) -> dict[pd.Timestamp, str]:
        """Split name of every cutoff."""
        return {cutoff: name for name in SPLITS for cutoff in getattr(self, name)}

    def all(self) -> list[pd.Timestamp]:
        return [c for name in SPLITS for c in getattr(self, name)]


def plan_cutoffs(data_start: pd.Timestamp, data_end: pd.Timestamp, config: Config) -> CutoffPlan:
    """Lay the splits back from the last cutoff whose horizon is observed; an error if the data is too short."""
    t = config.training
    step = pd.Timedelta(days=t.cutoff_frequency_days)
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    embargo_steps = int(np.ceil(config.labels.horizon_days / t.cutoff_frequency_days))
    last = (data_end - horizon).floor("D")
    counts = [t.backtest_cutoffs, t.calibration_cutoffs, t.validation_cutoffs, t.train_cutoffs]
    splits: list[list[pd.Timestamp]] = []
    cursor = last
    for count in counts:
        cutoffs = [cursor - step * k for k in range(count)][::-1]
        splits.append(cutoffs)
        cursor = cutoffs[0] - step * embargo_steps
    earliest = splits[-1][0]
    first_allowed = (data_start + pd.Timedelta(days=MIN_HISTORY_DAYS)).ceil("D")
    if earliest < first_allowed:
        needed_days = (last - earliest).days + config.labels.horizon_days + MIN_HISTORY_DAYS
        raise InputError(
            f"the data spans {(data_end - data_start).days} days ({data_start:%Y-%m-%d} .. {data_end:%Y-%m-%d}); "
            f"{sum(counts)} cutoffs every {t.cutoff_frequency_days} days with a {config.labels.horizon_days}-day horizon "
            f"and embargoes need about {needed_days} days: lower training.*_cutoffs or training.cutoff_frequency_days"
        )
    backtest, calibration, validation, train = splits
    return CutoffPlan(train=train, validation=validation, calibration=calibration, backtest=backtest)


def build_dataset(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    plan: CutoffPlan,
    config: Config,
    *,
    data_end: pd.Timestamp,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Features, segment, labels, next-horizon revenue and split name for every (cutoff, partner)."""
    cutoffs = plan.all()
    features = build_features(partners, events, cutoffs, config, progress=progress)
    labels = build_labels(partners, events, cutoffs, config, data_end=data_end, features=features)
    dataset = features.merge(
        labels[["partner_id", "as_of", "active", "deactivated", "upgraded", "segment_at_horizon", "revenue_next_horizon"]],
        on=["partner_id", "as_of"],
        how="left",
        validate="one_to_one",
    )
    dataset["split"] = dataset["as_of"].map(plan.split_of())
    return dataset
