"""Rows an action's log needs (retention/power.py) against the closed-form normal approximation."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from retention.power import power_table, rows_needed


def closed_form(baseline: float, effect: float, holdout_share: float) -> float:
    """n contacted = (z_{0.975} + z_{0.8})^2 (1 + contacted / held out) / h^2, Cohen's h = 2 asin sqrt p1 - 2 asin sqrt p0."""
    h = 2 * math.asin(math.sqrt(baseline + effect)) - 2 * math.asin(math.sqrt(baseline))
    return (norm.ppf(0.975) + norm.ppf(0.8)) ** 2 * (1 + (1 - holdout_share) / holdout_share) / h**2


@pytest.mark.parametrize(("baseline", "effect", "share"), [(0.3, -0.05, 0.2), (0.6, -0.1, 0.2), (0.2, 0.03, 0.5)])
def test_rows_needed_agree_with_the_normal_approximation(baseline: float, effect: float, share: float) -> None:
    contacted, held_out = rows_needed(baseline, effect, holdout_share=share)
    assert contacted == pytest.approx(closed_form(baseline, effect, share), abs=1.5)
    assert held_out == pytest.approx(contacted * share / (1 - share), abs=1.0)


def test_smaller_effects_and_smaller_holdouts_need_more_rows() -> None:
    table = power_table((0.3,), (-0.02, -0.05, -0.1), holdout_share=0.2)
    assert table["held_out"].is_monotonic_decreasing and table["held_out"].iloc[0] > 4 * table["held_out"].iloc[1]
    assert rows_needed(0.3, -0.05, holdout_share=0.1)[1] < rows_needed(0.3, -0.05, holdout_share=0.2)[1]
    assert sum(rows_needed(0.3, -0.05, holdout_share=0.1)) > sum(rows_needed(0.3, -0.05, holdout_share=0.2))


def test_impossible_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="inside"):
        rows_needed(0.05, -0.1, holdout_share=0.2)
    with pytest.raises(ValueError, match="holdout_share"):
        rows_needed(0.3, -0.05, holdout_share=1.0)
