"""Segment rules on hand-worked partners: each rule, the order between them, one segment each."""

from __future__ import annotations

import numpy as np
import pytest

from features.segments import LADDER_RANK, SEGMENTS, assign_segments, star_revenue_threshold
from partner_churn.config import SegmentsConfig

RULES = SegmentsConfig()
INF = np.inf

#              tenure  active_30  silent  revenue_90  expected
CASES = [
    ("star", 400, 20, 0, 5_000.0),
    ("star_too_young", 150, 25, 0, 5_000.0),  # -> workhorse: tenure under 180 days
    ("star_irregular", 400, 6, 2, 5_000.0),  # -> workhorse: not near daily
    ("workhorse", 200, 6, 1, 300.0),
    ("workhorse_no_revenue", 200, 6, 1, 0.0),  # -> newbie: zero revenue
    ("workhorse_rare", 200, 3, 1, 300.0),  # -> newbie: fewer than 4 active days
    ("sleeper", 120, 0, 45, 0.0),
    ("sleeper_young", 60, 0, 45, 0.0),  # -> newbie: under 90 days in the program
    ("never_active_old", 300, 0, INF, 0.0),  # -> sleeper: registered long ago, never did anything
    ("newbie", 10, 2, 1, 0.0),
    ("earner_1", 200, 5, 1, 100.0),
    ("earner_2", 200, 5, 1, 200.0),
]
EXPECTED = [
    "star",
    "workhorse",
    "workhorse",
    "workhorse",
    "newbie",
    "newbie",
    "sleeper",
    "newbie",
    "sleeper",
    "newbie",
    "workhorse",
    "workhorse",
]


def test_hand_worked_cases() -> None:
    tenure, active, silent, revenue = (np.array([case[i] for case in CASES], dtype=float) for i in range(1, 5))
    segments = assign_segments(tenure, active, silent, revenue, RULES)
    assert dict(zip([c[0] for c in CASES], segments)) == dict(zip([c[0] for c in CASES], EXPECTED))


def test_every_partner_gets_exactly_one_known_segment() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    segments = assign_segments(
        rng.uniform(0, 600, n), rng.integers(0, 31, n), rng.choice([0, 5, 20, 40, 80, INF], n), rng.exponential(100, n) * rng.integers(0, 2, n), RULES
    )
    assert segments.shape == (n,) and set(segments) <= set(SEGMENTS)


def test_star_by_share_of_a_small_program() -> None:
    """In a small program a partner with 15%+ of revenue is a star even below the quantile threshold."""
    revenue = np.array([1_000.0, 300.0, 300.0])
    segments = assign_segments(np.full(3, 400.0), np.full(3, 20.0), np.zeros(3), revenue, RULES, star_threshold=5_000.0)
    assert list(segments) == ["star", "star", "star"]
    segments = assign_segments(
        np.full(3, 400.0), np.full(3, 20.0), np.zeros(3), revenue, RULES, star_threshold=5_000.0, program_window_revenue=100_000.0
    )
    assert list(segments) == ["workhorse", "workhorse", "workhorse"]


def test_star_threshold_is_a_quantile_of_earners_only() -> None:
    revenue = np.array([0.0, 0.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0])
    assert star_revenue_threshold(revenue, RULES) == pytest.approx(np.quantile([10, 20, 30, 40, 50], RULES.star_min_revenue_quantile))
    assert star_revenue_threshold(np.zeros(4), RULES) == INF


def test_ladder() -> None:
    assert LADDER_RANK["sleeper"] == LADDER_RANK["newbie"] < LADDER_RANK["workhorse"] < LADDER_RANK["star"]
