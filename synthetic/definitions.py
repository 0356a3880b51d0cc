"""What the generator's parts share: the calendar and population constants a scenario needs too, a generated
population's traits, a change of the program's rules, and a generated program. `synthetic.program`
simulates; `synthetic.scenarios` changes the traits and rules; both import from here, not from each other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

COUNTRIES = {"RU": 0.42, "KZ": 0.12, "BY": 0.08, "UZ": 0.08, "AM": 0.05, "DE": 0.06, "US": 0.07, "TR": 0.06, "AE": 0.06}
WEEKDAY_SIGNUPS = np.array([1.10, 1.15, 1.10, 1.05, 1.00, 0.65, 0.55])
SECONDS_PER_DAY = 86_400
MAX_EXIT_RATE = 0.05
"""Cap on a partner's daily chance of leaving cleanly under a change (`ProgramChange.exit_rate`)."""


@dataclass(frozen=True)
class ProgramChange:
    """How the program's rules change from `start_day` on (the neutral values change nothing).

    Named, documented scenarios (`synthetic/scenarios.py`) set these knobs; the simulation applies them
    only on days >= `start_day`, so everything before the change is simulated exactly as without it.
    Every knob acts through the same rates the latent truth records, so the oracle stays consistent.
    """

    start_day: int
    """First simulated day (0 = the program's first day) under the new rules."""
    commission_factor: float = 1.0
    """Commission accrues at the partner's rate times this (a commission cut is below 1)."""
    traffic_factor: float = 1.0
    """Clicks of productive partners are scaled by this (partners move traffic elsewhere)."""
    exit_rate: float = 0.0
    """Daily chance that a productive partner sending `exit_scale_reference` clicks a day leaves cleanly for
    another program (no stray logins, no comeback); proportional to the partner's traffic scale, capped at
    `MAX_EXIT_RATE`: the biggest partners have the best alternatives and leave first."""
    exit_scale_reference: float = 10.0
    """Traffic scale (clicks a day) at which the daily exit chance is `exit_rate`."""
    extra_payout_delay_days: tuple[int, int] = (0, 0)
    """Days added to every payout requested under the new rules, drawn uniformly from [low, high)."""
    unpaid_share: float = 0.0
    """Share of payouts requested under the new rules that are never paid within the period."""

    def applies(self, day: int) -> bool:
        return day >= self.start_day


@dataclass(frozen=True)
class GeneratedProgram:
    """A generated program: the three contract tables plus the latent truth behind them (and, when asked
    for, the true potential outcomes of its logged actions)."""

    partners: pd.DataFrame
    events: pa.Table
    actions: pd.DataFrame
    latent: pa.Table
    """Per partner and day from sign-up, for partners who ever engaged: state, dropout_hazard (daily
    chance an awake partner falls dormant), activity_rate (chance of any qualifying event on a day of a
    working week; for a dormant partner, of a stray login), working_week_rate (chance an awake partner
    works in a given week: partners work in bursts), off_week_activity_rate (daily chance of a login in
    a week it does not work) and comeback_rate (daily chance a dormant partner
    wakes up; for an awake partner, the chance it would have on the day after falling dormant, which the
    oracle needs for partners who fall silent within the horizon)."""
    start: pd.Timestamp
    end: pd.Timestamp
    scenarios: tuple[str, ...] = ()
    """Scenarios injected (`synthetic/scenarios.py`); empty for the unchanged program."""
    scenario_from: dt.date | None = None
    """First day under the scenarios' rules."""
    action_truth: pd.DataFrame | None = None
    """When asked for (`synthetic.action_truth`): per row of `actions`, in its order, partner_id, ts, action,
    segment_at_action (the segment the plan used; newbie for onboarding calls), silent_if_treated and
    silent_if_held_out (chance of no qualifying event in the H days from the action's UTC day under each
    arm), revenue_if_treated and revenue_if_held_out (expected sale revenue in those days)."""
    surveys: pd.DataFrame | None = None
    """Monthly satisfaction survey answers (partner_id, ts, score 0-10) following each partner's state at the
    time (`_Simulation._survey`); None for programs made before surveys."""


@dataclass(frozen=True)
class Traits:
    frame: pd.DataFrame
    signup_day: np.ndarray
    signup_second: np.ndarray
    type_index: np.ndarray
    engages: np.ndarray
    drive: np.ndarray
    scale: np.ndarray
    quality: np.ndarray
    fickleness: np.ndarray
    payout_sensitivity: np.ndarray
    comeback: np.ndarray
    regularity: np.ndarray
    sale_median: np.ndarray
    commission_rate: np.ndarray
    activation_mult: np.ndarray
    hazard_mult: np.ndarray
    onboarding_assigned: np.ndarray
    onboarding_holdout: np.ndarray
    payout_slowness: np.ndarray
