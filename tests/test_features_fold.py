"""The one-cutoff day table's fold (`features.pipeline`: earlier events folded into one row per partner, active
days and gaps kept aside, events after the range in a row nobody reads) against the slow reference, on small
random programs built around the fold's boundary: partners whose events all lie before the range or all after
it, sign-ups inside it, events on the boundary's day grid, a second either side and exactly at a cutoff, with
random windows, horizons and qualifying types, one to twelve cutoffs, and labels at the end of the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.pipeline import build_features, build_labels, lookback_days
from partner_churn.config import Config
from tests.reference_features import reference_features, reference_labels
from tests.test_features import assert_features_agree, assert_labels_agree, make_events, make_partners

DAY = pd.Timedelta(days=1)
SEEDS = range(16)


def random_config(rng: np.random.Generator) -> Config:
    """Defaults now and then; else random look-back windows, trend, slope, funnel, share, onboarding, segment
    window, downgrade warning, horizon and qualifying types (each valid for the config's own checks)."""
    if rng.random() < 0.3:
        return Config()
    features: dict[str, object] = {}
    windows = {int(x) for x in rng.integers(1, 200, rng.integers(1, 4))} if rng.random() < 0.6 else {7, 30, 90, 180}
    for key, low, high in (("trend_window_days", 1, 100), ("slope_weeks", 2, 30), ("funnel_window_days", 1, 200), ("onboarding_hours", 1, 200)):
        if rng.random() < 0.5:
            features[key] = int(rng.integers(low, high))
    if rng.random() < 0.5:
        features["revenue_share_windows_days"] = sorted({int(x) for x in rng.integers(1, 200, rng.integers(1, 3))})
    segments: dict[str, object] = {}
    window = int(rng.integers(10, 200)) if rng.random() < 0.5 else 90
    segments["revenue_window_days"] = window
    features["windows_days"] = sorted(windows | {window})  # the segments read the revenue of their window
    if rng.random() < 0.5 or window < 30:
        segments["downgrade_warning_days"] = int(rng.integers(1, min(window, 120) + 1))
    labels: dict[str, object] = {}
    if rng.random() < 0.4:
        labels["horizon_days"] = int(rng.integers(1, 90))
    if rng.random() < 0.3:
        labels["qualifying_event_types"] = [str(t) for t in rng.choice(Config().data.event_types, rng.integers(1, 5), replace=False)]
    return Config.model_validate({"features": features, "segments": segments, "labels": labels})


def program_around_the_fold(rng: np.random.Generator, config: Config, cutoffs: list[pd.Timestamp]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to 8 partners of five kinds around `lookback_days(config)` before the first cutoff (the fold's boundary)."""
    types = list(config.data.event_types)
    boundary, last = cutoffs[0] - lookback_days(config) * DAY, cutoffs[-1]
    partner_rows, event_rows = [], []
    for i in range(int(rng.integers(1, 9))):
        kind = int(rng.integers(0, 5))
        if kind == 0:  # signed up long before; every event before the range
            signup = boundary - int(rng.integers(30, 400)) * DAY
            low, high = signup, boundary
        elif kind == 1:  # every event at or after the latest cutoff
            signup = boundary - int(rng.integers(0, 100)) * DAY
            low, high = last, last + 120 * DAY
        elif kind == 2:  # signs up inside the range
            signup = boundary + int(rng.integers(0, max((last - boundary) // DAY, 1))) * DAY + pd.Timedelta(hours=float(rng.uniform(0, 24)))
            low, high = signup, last + 60 * DAY
        else:  # everywhere, densest near the boundary
            signup = boundary - int(rng.integers(10, 300)) * DAY
            low, high = signup, last + 60 * DAY
        partner_rows.append((f"x{i:02d}", signup, "website", "DE", float(rng.choice([0.1, 0.2, np.nan]))))
        for _ in range(int(rng.integers(0, 40))):
            draw = rng.random()
            if draw < 0.3:  # on the boundary's day grid, or a second either side
                ts = boundary + int(rng.integers(-5, 5)) * DAY + pd.Timedelta(seconds=int(rng.integers(-1, 2)))
            elif draw < 0.45:  # exactly at a cutoff, a nanosecond before, or a few days either side
                cutoff = cutoffs[int(rng.integers(0, len(cutoffs)))]
                ts = cutoff + rng.choice([pd.Timedelta(0), pd.Timedelta(-1), pd.Timedelta(days=int(rng.integers(-3, 3)))])
            else:
                ts = low + (high - low) * float(rng.random())
            event_type = str(rng.choice(types))
            amount = float(rng.integers(0, 400)) / 4 if event_type in ("sale", "payout_paid", "payout_requested") else 0.0
            event_rows.append((f"x{i:02d}", max(ts, signup), event_type, amount))
    partners = make_partners(partner_rows)
    return partners, make_events(event_rows, partners, config)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_fold_agrees_with_the_reference_around_its_boundary(seed: int) -> None:
    rng = np.random.default_rng(seed)
    config = random_config(rng)
    first = pd.Timestamp("2025-06-01", tz="UTC") + pd.Timedelta(minutes=int(rng.integers(0, 1440)))
    step = int(rng.choice([1, 14, 30, 31, 200]))
    cutoffs = [first + j * step * DAY for j in range(int(rng.choice([1, 1, 2, 3, 12])))]
    partners, events = program_around_the_fold(rng, config, cutoffs)
    assert_features_agree(build_features(partners, events, cutoffs, config), reference_features(partners, events, cutoffs, config), config)
    data_end = cutoffs[-1] + int(rng.integers(0, 100)) * DAY  # sometimes before the last horizon ends
    labels = build_labels(partners, events, cutoffs, config, data_end=data_end)
    assert_labels_agree(labels, reference_labels(partners, events, cutoffs, config, data_end=data_end))
