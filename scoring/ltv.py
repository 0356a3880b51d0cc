"""Partner lifetime value (LTV): the revenue a partner is expected to bring over the next
`scoring.ltv_horizon_months`, from what the scoring knows of it and what the program's own history says of
partners like it.

How it is computed, per partner active at the cutoff:

- the pace: revenue per label horizon (`labels.horizon_days`, 30 by default) from the segment window's
  sales (`segments.revenue_window_days`, 90) over the days of it the partner was signed up (a partner 30
  days old has 30 days of sales, not 90);
- its growth: partners who stay active earn more than their trailing pace (new sellers ramp up, newbies
  start selling). `pace_growth` measures it in the program's own history, by tenure band: at the cutoff
  one LTV horizon earlier, each band's partners' revenue in every horizon period while they were still
  active in every period so far, over their pace then. A band with fewer than MIN_GROWTH_PARTNERS such
  partners, or a history shorter than the LTV horizon plus the segment window, keeps a factor of 1;
- the chance of staying active through each horizon: 1 - `deactivation_risk`, the risk model's calibrated
  probability of no qualifying activity in the next horizon, compounded horizon by horizon as if it stayed
  the same (a constant hazard);
- LTV = r g (s + s^2 + ... + s^n) with r the pace, g its band's growth, s = 1 - risk and n the LTV horizon in
  label horizons (12 months of 30-day horizons: n = 12.2, its fraction read off the same curve); no discounting.

A partner not active at the cutoff has an LTV of 0; an active partner the risk model did not score (the
model unavailable) has none (NaN), and the program's LTV is then unknown, not a sum over the rest.
`ltv_at_risk` is what deactivation is expected to take: r g n - LTV, the horizon's revenue at the grown pace
minus the LTV.

Its limits, measured on generated programs against the revenue realised afterwards (docs/benchmarks.md,
`bench/ltv_bench.py`): comebacks of silent partners are not in it, nor first sales of active partners who
have sold nothing yet (their pace is 0); the growth is the average of a tenure band, not the partner's own;
a constant hazard ignores that partners who stay become steadier; the segment window carries its season
forward.

Pure: columns in, arrays and frames out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.events import EventArrays
from features.segments import SEGMENTS
from partner_churn.config import Config
from partner_churn.domain import active_mask, utc
from scoring.scores import expected_horizon_revenue

DAYS_PER_MONTH = 365.25 / 12
LTV_COLUMNS = ("ltv", "ltv_at_risk")
TENURE_BANDS_DAYS = (90, 180, 365)
"""Pace growth is measured and applied per tenure band at the cutoff: under 90 days, 90-180, 180-365, older."""
TENURE_BANDS = ("<90d", "90-180d", "180-365d", ">=365d")
MIN_GROWTH_PARTNERS = 30
"""A tenure band's growth needs this many partners with a pace who were active at the earlier cutoff."""


@dataclass(frozen=True)
class PaceGrowth:
    """How much more than their pace the partners who stay active earn, per tenure band (`pace_growth`)."""

    measured_at: pd.Timestamp | None
    """The earlier cutoff it was measured from (one LTV horizon back); None: the history is too short."""
    factors: Mapping[str, float]
    """Tenure band (TENURE_BANDS) -> factor (1.0 where unmeasured)."""
    partners: Mapping[str, int]
    """Tenure band -> partners it was measured on."""

    def of(self, tenure_days: np.ndarray) -> np.ndarray:
        return np.array([self.factors.get(band, 1.0) for band in TENURE_BANDS])[tenure_band(tenure_days)]


NO_GROWTH = PaceGrowth(None, {}, {})


def tenure_band(tenure_days: np.ndarray) -> np.ndarray:
    """Index into TENURE_BANDS of each tenure (NaN: the oldest band)."""
    return np.searchsorted(np.asarray(TENURE_BANDS_DAYS, dtype=float), np.nan_to_num(np.asarray(tenure_days, dtype=float), nan=np.inf), side="right")


def revenue_pace(window_revenue: np.ndarray, tenure_days: np.ndarray, config: Config) -> np.ndarray:
    """Revenue per label horizon from the segment window's sales over the days of it the partner was signed up."""
    window = config.segments.revenue_window_days
    days = np.clip(np.nan_to_num(np.asarray(tenure_days, dtype=float), nan=window), 1.0, window)
    return np.asarray(window_revenue, dtype=float) * config.labels.horizon_days / days


def pace_growth(events: EventArrays, as_of: pd.Timestamp, config: Config) -> PaceGrowth:
    """The growth of `revenue_pace` among partners who stay active, per tenure band, measured one LTV horizon
    (its whole label horizons) before `as_of` on the events before `as_of` (see the module's docstring)."""
    return combine_growth([growth_part(events, as_of, config)], as_of, config)


@dataclass(frozen=True)
class GrowthPart:
    """What one frame of whole partners adds to `pace_growth`: per tenure band, the partners measured, their
    pace summed over the periods they stayed active, and what they earned in them; its first event."""

    first_event: pd.Timestamp | None
    partners: Mapping[str, int]
    expected: Mapping[str, float]
    realised: Mapping[str, float]


def growth_part(events: EventArrays, as_of: pd.Timestamp, config: Config) -> GrowthPart:
    """`pace_growth`'s sums over these partners (the program, or one partition of it)."""
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    periods = int(ltv_periods(config))
    start = utc(as_of) - periods * horizon
    window = pd.Timedelta(days=config.segments.revenue_window_days)
    ts, code, amount = events.ts, events.code, events.amount
    first = ts.min() if len(ts) else None
    if periods < 1 or first is None:
        return GrowthPart(first, {}, {}, {})
    qualifying, sale = events.qualifying, events.sale  # the periods end at as_of: nothing later is read
    signup, n = events.signup, len(events.ids)
    active_then = events.active_between(start - pd.Timedelta(days=config.labels.active_window_days), start)
    tenure = (start - signup) / pd.Timedelta(days=1)
    in_window = sale & (ts >= start - window) & (ts < start)
    pace = revenue_pace(np.bincount(code[in_window], weights=amount[in_window], minlength=n), tenure, config)
    period = np.floor_divide((ts - start).asi8, horizon.value)
    after = (period >= 0) & (period < periods)
    active = np.bincount(code[qualifying & after] * periods + period[qualifying & after], minlength=n * periods).reshape(n, periods) > 0
    revenue = np.bincount(code[sale & after] * periods + period[sale & after], weights=amount[sale & after], minlength=n * periods).reshape(
        n, periods
    )
    stayed = np.cumprod(active, axis=1).astype(bool)  # active in every period so far
    measured = active_then & (pace > 0) & (tenure > 0)
    band = tenure_band(tenure)
    partners, expected, realised = {}, {}, {}
    for i, name in enumerate(TENURE_BANDS):
        mine = measured & (band == i)
        partners[name] = int(mine.sum())
        expected[name] = float((stayed[mine] * pace[mine, None]).sum())
        realised[name] = float((stayed[mine] * revenue[mine]).sum())
    return GrowthPart(first, partners, expected, realised)


def combine_growth(parts: Sequence[GrowthPart], as_of: pd.Timestamp, config: Config) -> PaceGrowth:
    """`pace_growth` of the program from the parts of all its partners (NO_GROWTH when its history does not
    reach back one LTV horizon and a revenue window before `as_of`)."""
    periods = int(ltv_periods(config))
    start = utc(as_of) - periods * pd.Timedelta(days=config.labels.horizon_days)
    firsts = [part.first_event for part in parts if part.first_event is not None]
    if periods < 1 or not firsts or min(firsts) > start - pd.Timedelta(days=config.segments.revenue_window_days):
        return NO_GROWTH
    factors, counts = {}, {}
    for name in TENURE_BANDS:
        counts[name] = sum(part.partners.get(name, 0) for part in parts)
        expected = sum(part.expected.get(name, 0.0) for part in parts)
        if counts[name] >= MIN_GROWTH_PARTNERS and expected > 0:
            factors[name] = sum(part.realised.get(name, 0.0) for part in parts) / expected
    return PaceGrowth(start, factors, counts)


def ltv_periods(config: Config) -> float:
    """The LTV horizon in label horizons (12 months of 30-day horizons: 12.175)."""
    return config.scoring.ltv_horizon_months * DAYS_PER_MONTH / config.labels.horizon_days


def partner_ltv(
    columns: Mapping[str, Any] | pd.DataFrame, config: Config, *, tenure_days: Any = None, growth: PaceGrowth = NO_GROWTH
) -> dict[str, np.ndarray]:
    """Per partner: `ltv` and `ltv_at_risk` over the LTV horizon (see the module's docstring).

    `columns` holds `days_since_last_activity`, `deactivation_risk` and `expected_revenue` (a risk list, a
    score history entry), and `tenure_days` unless given; NaN where an active partner has no risk score.
    """
    n = ltv_periods(config)
    tenure = np.asarray(columns["tenure_days"] if tenure_days is None else tenure_days, dtype=float)
    window_revenue = np.nan_to_num(np.asarray(columns["expected_revenue"], dtype=float), nan=0.0) / expected_horizon_revenue(1.0, config)
    revenue = revenue_pace(window_revenue, tenure, config) * growth.of(tenure)
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
    growth: PaceGrowth = NO_GROWTH
    """The pace growth it applied."""


def program_ltv(columns: pd.DataFrame, signup_at: pd.Series, as_of: pd.Timestamp, config: Config, growth: PaceGrowth = NO_GROWTH) -> ProgramLtv:
    """Sum `partner_ltv` over the partners of `columns` (also `segment`, `partner_id`) scored at `as_of`;
    `signup_at` per partner_id (their tenure and sign-up quarter)."""
    signup = pd.DatetimeIndex(pd.to_datetime(signup_at, utc=True).reindex(pd.Index(columns["partner_id"]).astype(str)))
    values = partner_ltv(columns, config, tenure_days=(utc(as_of) - signup) / pd.Timedelta(days=1), growth=growth)
    frame = pd.DataFrame(
        {"segment": np.asarray(columns["segment"], dtype=object), "cohort": signup.tz_localize(None).to_period("Q").astype(str), **values}
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
        growth=growth,
    )
