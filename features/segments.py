"""Segment rules: every partner in exactly one of Star / Workhorse / Newbie / Sleeper at a cutoff.

The design's table, made exact (see docs/definitions.md for the reasons):
- star: tenure >= star_min_tenure_days, active on >= star_min_active_days_30 of the last 30 days, and window
  revenue either >= star_min_revenue_share of the program's or >= the star_min_revenue_quantile of partners
  with any window revenue;
- workhorse: not a star, tenure >= workhorse_min_tenure_days, window revenue > workhorse_min_revenue and
  active on >= workhorse_min_active_days_30 of the last 30 days;
- sleeper: tenure >= sleeper_min_tenure_days and no qualifying event for >= sleeper_min_silent_days;
- newbie: everyone else (young, or zero/minimal revenue with irregular activity).
The rules are vectorised over arrays so that the generator, the feature pipeline and the service share them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from partner_churn.config import SegmentsConfig

SEGMENTS: tuple[str, ...] = ("star", "workhorse", "newbie", "sleeper")
"""Segment names, in the order reports list them."""

LADDER_RANK: dict[str, int] = {"sleeper": 0, "newbie": 0, "workhorse": 1, "star": 2}
"""Position on the ladder Sleeper/Newbie < Workhorse < Star; an upgrade is a move to a higher rank."""

FloatArray = npt.NDArray[np.floating]


def tenure_thresholds(rules: SegmentsConfig) -> tuple[int, ...]:
    """Tenures at which a partner's segment can change by age alone (a Newbie with Workhorse-level revenue
    becomes a Workhorse the day it reaches workhorse_min_tenure_days)."""
    return tuple(sorted({rules.workhorse_min_tenure_days, rules.star_min_tenure_days, rules.sleeper_min_tenure_days}))


def crosses_tenure_threshold(tenure_days: FloatArray, horizon_days: int, rules: SegmentsConfig) -> npt.NDArray[np.bool_]:
    """Per partner: does some tenure threshold fall within the next `horizon_days` (tenure < threshold <=
    tenure + horizon)? Upgrades of such partners can be mechanical, so upgrade potential is also judged
    without them."""
    tenure = np.asarray(tenure_days, dtype=float)
    crossing = np.zeros(tenure.shape, dtype=bool)
    for threshold in tenure_thresholds(rules):
        crossing |= (tenure < threshold) & (tenure + horizon_days >= threshold)
    return crossing


def star_revenue_threshold(window_revenue: FloatArray, rules: SegmentsConfig) -> float:
    """Window revenue at which a partner is 'top of the program' by quantile, among partners with revenue."""
    earning = window_revenue[window_revenue > 0]
    if earning.size == 0:
        return float("inf")
    return float(np.quantile(earning, rules.star_min_revenue_quantile))


def assign_segments(
    tenure_days: FloatArray,
    active_days_30: FloatArray,
    days_since_last_activity: FloatArray,
    window_revenue: FloatArray,
    rules: SegmentsConfig,
    *,
    program_window_revenue: float | None = None,
    star_threshold: float | None = None,
) -> npt.NDArray[np.str_]:
    """Segment name per partner.

    `days_since_last_activity` is +inf for a partner with no qualifying event yet. The program totals
    default to the partners given (the whole program at the cutoff); the service passes the program's
    own totals when it scores a single partner.
    """
    tenure_days = np.asarray(tenure_days, dtype=float)
    active_days_30 = np.asarray(active_days_30, dtype=float)
    silent_days = np.asarray(days_since_last_activity, dtype=float)
    window_revenue = np.asarray(window_revenue, dtype=float)
    if program_window_revenue is None:
        program_window_revenue = float(window_revenue.sum())
    if star_threshold is None:
        star_threshold = star_revenue_threshold(window_revenue, rules)
    share = window_revenue / program_window_revenue if program_window_revenue > 0 else np.zeros_like(window_revenue)
    top_revenue = (window_revenue > 0) & ((share >= rules.star_min_revenue_share) | (window_revenue >= star_threshold))
    star = (tenure_days >= rules.star_min_tenure_days) & (active_days_30 >= rules.star_min_active_days_30) & top_revenue
    workhorse = (
        (tenure_days >= rules.workhorse_min_tenure_days)
        & (window_revenue > rules.workhorse_min_revenue)
        & (active_days_30 >= rules.workhorse_min_active_days_30)
    )
    sleeper = (tenure_days >= rules.sleeper_min_tenure_days) & (silent_days >= rules.sleeper_min_silent_days)
    return np.select([star, workhorse, sleeper], ["star", "workhorse", "sleeper"], default="newbie")
