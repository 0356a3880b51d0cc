"""How many partners an action's log needs before its effect on silence can be told from chance.

The effect of an action is measured as contacted minus held out (`retention.effects`); whether a given
true effect shows as `works` depends on the rows in both arms. For a change of the silence rate from
`baseline` to `baseline + effect`, the rows a two-sided test at 95% needs to find it 8 times in 10 come from
Cohen's h and the normal approximation (statsmodels' `NormalIndPower`), with the holdout a fixed share of the
action's rows as the managers assign it. Revenue effects have no such table: their spread depends on the
program's revenue distribution, so the interval `effects` prints is the guide there.

An uplift model that does not beat random targeting out of time may still rank partners better than chance:
its Qini coefficient can be above 0 with an interval that reaches below it. `qini_rows_needed` says how many
test rows a Qini of that size would need for its interval to lie above 0 8 times in 10, if the model's Qini
held as the log grew: the bootstrap interval's half-width falls as one over the square root of the rows
(measured on four generated programs three times as large: the check-in's half-width was 0.54-0.65 of the
smaller ones', 0.59 on average, against 1 / sqrt(3) = 0.58).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pandas as pd
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

POWER = 0.8
"""The chance of finding a true effect of the given size: the usual 80%."""
ROWS_FACTOR_SHOWN = 100
"""Past this many times its test rows, a Qini is said to be too small to tell from random targeting (a log that
long is not in sight, and the figure would be noise: a Qini of +0.00001 needs billions of rows)."""


def rows_needed(baseline: float, effect: float, *, holdout_share: float, confidence: float = 0.95, power: float = POWER) -> tuple[int, int]:
    """(contacted, held-out) rows to find a change of the silence rate from `baseline` by `effect` (e.g.
    0.30 and -0.05: 30% silent without the action, 25% with it)."""
    if not 0 < baseline < 1 or not 0 < baseline + effect < 1 or effect == 0:
        raise ValueError(f"rates must stay inside (0, 1) and the effect must not be 0: {baseline} and {effect}")
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be inside (0, 1): {holdout_share}")
    size = abs(proportion_effectsize(baseline + effect, baseline))
    ratio = holdout_share / (1 - holdout_share)  # held out per contacted
    contacted = NormalIndPower().solve_power(effect_size=size, alpha=1 - confidence, power=power, ratio=ratio, alternative="two-sided")
    return math.ceil(contacted), math.ceil(contacted * ratio)


def power_table(baselines: tuple[float, ...], effects: tuple[float, ...], *, holdout_share: float, confidence: float = 0.95) -> pd.DataFrame:
    """Held-out rows needed (and all rows of the action) per baseline silence rate and effect."""
    rows = []
    for baseline in baselines:
        for effect in effects:
            contacted, held_out = rows_needed(baseline, effect, holdout_share=holdout_share, confidence=confidence)
            rows.append({"baseline_silence": baseline, "effect": effect, "held_out": held_out, "all_rows": contacted + held_out})
    return pd.DataFrame(rows)


def qini_rows_needed(qini: float, low: float, high: float, rows: int, *, confidence: float = 0.95, power: float = POWER) -> int | None:
    """Test rows at which a Qini coefficient of `qini`, measured on `rows` test rows with the interval [`low`,
    `high`] at `confidence`, would have its interval above 0 `power` of the time, if it held. None when the
    Qini is not above 0 (no gain to extrapolate) or its interval is unknown or empty, or when its lower end is
    already above 0 (it needs no more rows).

    The standard error is read off the interval's lower side, the one the gate looks at (a bootstrap
    interval need not be symmetric). The figure is rough: the Qini measured on too few rows to tell it from
    0 is itself uncertain by half or more, and the rows go as one over its square."""
    if not (qini > 0 and math.isfinite(low) and math.isfinite(high) and high > low and rows > 0 and low <= 0):
        return None
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    standard_error = (qini - low) / z
    ratio = min((z + NormalDist().inv_cdf(power)) * standard_error / qini, 1e6)  # past any log in sight; 1e-200 must not overflow
    return math.ceil(rows * ratio**2)


def shown_rows_factor(needed: int, rows: int) -> float | None:
    """`needed` test rows as a multiple of the `rows` measured on, or None past ROWS_FACTOR_SHOWN: too small to
    tell from random targeting (what `effects` and the report say instead of the figure)."""
    return None if needed > ROWS_FACTOR_SHOWN * rows else needed / rows
