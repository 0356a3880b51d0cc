"""Rows an action's log needs (retention/power.py) against the closed-form normal approximation."""

from __future__ import annotations

import math

import numpy as np
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


def test_qini_rows_needed_is_the_normal_approximation_of_the_interval() -> None:
    """Half-width h at n rows: standard error h / z_{0.975}; the rows where (z_{0.975} + z_{0.8}) errors fit under the Qini."""
    from retention.power import qini_rows_needed

    se = 0.004 / norm.ppf(0.975)
    expected = 4_000 * ((norm.ppf(0.975) + norm.ppf(0.8)) * se / 0.003) ** 2
    assert qini_rows_needed(0.003, -0.001, 0.007, 4_000) == math.ceil(expected)
    assert qini_rows_needed(0.003, -0.001, 0.007, 4_000, power=0.5) < math.ceil(expected)  # a coin flip needs fewer
    for qini, low, high in [
        (0.0, -0.004, 0.004),
        (-0.002, -0.006, 0.002),
        (0.003, float("nan"), 0.007),
        (0.003, 0.003, 0.003),
        (0.003, 0.001, 0.005),
    ]:
        assert qini_rows_needed(qini, low, high, 4_000) is None  # no gain to extrapolate, no interval, or already above 0


def test_qini_rows_needed_reads_the_lower_side_and_never_asks_for_fewer_rows() -> None:
    """A lopsided bootstrap interval: only its lower side decides the gate, so a wide upper side changes
    nothing; with the lower end at or below 0 at least ((z + z_0.8) / z)^2 = 2.04 times the rows; a Qini of
    next to nothing gives a large figure, not an overflow."""
    from retention.power import qini_rows_needed

    assert qini_rows_needed(0.01, -0.001, 0.012, 4_500) == qini_rows_needed(0.01, -0.001, 0.05, 4_500)
    assert qini_rows_needed(0.01, -0.001, 0.012, 4_500) > 2.04 * 4_500  # the whole width would have said 0.86 times
    assert qini_rows_needed(0.01, 0.0, 0.02, 1_000) == math.ceil(1_000 * ((norm.ppf(0.975) + norm.ppf(0.8)) / norm.ppf(0.975)) ** 2)
    assert qini_rows_needed(1e-200, -0.001, 0.001, 100) == 100 * 10**12


def test_at_the_rows_it_gives_a_qini_clears_random_targeting_8_times_in_10() -> None:
    """A population whose uplift grows with a feature the score is: the Qini's spread over fresh samples of 1,000
    rows, put in as the interval, gives the rows at which fresh samples clear 0 by their own 95% about 8 in 10."""
    from retention.power import qini_rows_needed
    from training.uplift import qini_coefficient

    def sample(rows: int, rng: np.random.Generator) -> float:
        x = rng.random(rows)
        contacted = rng.random(rows) < 0.8
        kept = rng.random(rows) < 0.5 + 0.1 * x * contacted
        return qini_coefficient(x, contacted, kept.astype(float), seed=0)

    rng = np.random.default_rng(5)
    small = np.array([sample(1_000, rng) for _ in range(1_000)])
    z = norm.ppf(0.975)
    assert small.mean() - z * small.std() < 0  # at 1,000 rows such a Qini does not beat random
    needed = qini_rows_needed(small.mean(), small.mean() - z * small.std(), small.mean() + z * small.std(), 1_000)
    assert needed is not None and 5 * 1_000 < needed < 40 * 1_000
    large = np.array([sample(needed, rng) for _ in range(400)])
    assert large.std() == pytest.approx(small.std() * math.sqrt(1_000 / needed), rel=0.1)  # the spread falls as 1 / sqrt(rows)
    assert 0.72 < float((large - z * large.std() > 0).mean()) < 0.88
