"""Partner lifetime value (LTV): the revenue a partner is expected to bring over the next
`scoring.ltv_horizon_months`, from what the scoring knows of it.

How it is computed, per partner active at the cutoff:

- revenue while active, per label horizon (`labels.horizon_days`, 30 by default): the partner's
  `expected_revenue`, i.e. its revenue of the segment window scaled to the horizon (the risk list's
  column, `scoring.scores.expected_horizon_revenue`);
- the chance of staying active through each horizon: 1 - `deactivation_risk`, the risk model's calibrated
  probability of no qualifying activity in the next horizon, compounded horizon by horizon as if it stayed
  the same (a constant hazard);
- LTV = r (s + s^2 + ... + s^n) with r the revenue per horizon, s = 1 - risk and n the LTV horizon in label
  horizons (12 months of 30-day horizons: n = 12.2, its fraction read off the same curve); no discounting.

A partner not active at the cutoff has an LTV of 0; an active partner the risk model did not score (the
model unavailable) has none (NaN), and the program's LTV is then unknown, not a sum over the rest.
`ltv_at_risk` is what deactivation is expected to take: r n - LTV, the horizon's revenue at today's pace
minus the LTV.

Its limits, measured on generated programs against the revenue realised afterwards (docs/benchmarks.md,
`bench/ltv_bench.py`): comebacks of silent partners and growth are not in it (a Newbie's first sales, a
Sleeper's return), so it under-states partners on the way up and silent ones; a constant hazard ignores
that partners who stay become steadier, which under-states the long tail of steady partners; the
revenue of the segment window is the pace, so a seasonal window carries its season forward.

Pure: columns in, arrays and frames out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.segments import SEGMENTS
from partner_churn.config import Config
from partner_churn.domain import active_mask

DAYS_PER_MONTH = 365.25 / 12
LTV_COLUMNS = ("ltv", "ltv_at_risk")


def ltv_periods(config: Config) -> float:
    """The LTV horizon in label horizons (12 months of 30-day horizons: 12.175)."""
    return config.scoring.ltv_horizon_months * DAYS_PER_MONTH / config.labels.horizon_days


def partner_ltv(columns: Mapping[str, Any] | pd.DataFrame, config: Config) -> dict[str, np.ndarray]:
    """Per partner: `ltv` and `ltv_at_risk` over the LTV horizon (see the module's docstring).

    `columns` holds `days_since_last_activity`, `deactivation_risk` and `expected_revenue` (a risk list, a
    score history entry); NaN where an active partner has no risk score.
    """
    n = ltv_periods(config)
    revenue = np.nan_to_num(np.asarray(columns["expected_revenue"], dtype=float), nan=0.0)
    stay = 1.0 - np.clip(np.asarray(columns["deactivation_risk"], dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(stay >= 1.0, n, stay * (1.0 - stay**n) / (1.0 - stay))
    active = active_mask(columns, config)
    ltv = np.where(active, revenue * factor, 0.0)
    return {"ltv": ltv, "ltv_at_risk": np.where(active, revenue * n - ltv, 0.0)}


@dataclass(frozen=True)
class ProgramLtv:
    """The program's LTV at a cutoff: totals, and per segment and sign-up cohort."""

    ltv: float
    """Sum over partners; NaN when an active partner has no risk score."""
    ltv_at_risk: float
    at_pace: float
    """The horizon's revenue if every active partner kept today's pace (ltv + ltv_at_risk)."""
    by_segment: pd.DataFrame
    """Index SEGMENTS; partners, ltv, ltv_per_partner, ltv_at_risk."""
    by_cohort: pd.DataFrame
    """Index sign-up quarter ('2025Q3', oldest first); partners, ltv, ltv_per_partner, ltv_at_risk."""


def program_ltv(columns: pd.DataFrame, signup_at: pd.Series, config: Config) -> ProgramLtv:
    """Sum `partner_ltv` over the partners of `columns` (also `segment`, `partner_id`); `signup_at` per partner_id."""
    values = partner_ltv(columns, config)
    frame = pd.DataFrame(
        {
            "segment": np.asarray(columns["segment"], dtype=object),
            "cohort": pd.DatetimeIndex(pd.to_datetime(signup_at, utc=True).reindex(pd.Index(columns["partner_id"]).astype(str)))
            .tz_localize(None)
            .to_period("Q")
            .astype(str),
            **values,
        }
    )

    def grouped(key: str, index: list[str]) -> pd.DataFrame:
        out = frame.groupby(key)[list(LTV_COLUMNS)].sum(min_count=1).reindex(index)
        out.insert(0, "partners", frame.groupby(key).size().reindex(index, fill_value=0))
        out.insert(2, "ltv_per_partner", out["ltv"] / out["partners"].where(out["partners"] > 0))
        return out

    cohorts = sorted(c for c in frame["cohort"].unique() if c != "NaT")
    total = float(frame["ltv"].sum(min_count=1)) if not frame["ltv"].isna().any() else float("nan")
    at_risk = float(frame["ltv_at_risk"].sum()) if not frame["ltv_at_risk"].isna().any() else float("nan")
    return ProgramLtv(
        ltv=total if len(frame) else 0.0,
        ltv_at_risk=at_risk if len(frame) else 0.0,
        at_pace=total + at_risk if len(frame) else 0.0,
        by_segment=grouped("segment", list(SEGMENTS)),
        by_cohort=grouped("cohort", cohorts),
    )
