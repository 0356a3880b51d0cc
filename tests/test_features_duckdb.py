"""The fast pipeline's window count and sum features agree with DuckDB SQL over the same Parquet.

`bench/duckdb_features.py` computes `{event_type}_count_{w}d`, `revenue_{w}d` and
`payout_paid_amount_{w}d` event by event, as `features/schema.py` defines them (or from a UTC-day
rollup, for midnight cutoffs); `build_features` gets them from partner-day cumulative sums. Both must give the same rows in the same order and the
same values: integers exactly, money to 1e-9 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.duckdb_features import duckdb_window_features, window_feature_names
from features.contract import load_program
from features.pipeline import build_features
from features.schema import feature_schema
from partner_churn.config import Config
from synthetic.program import generate_program, write_program

T0 = pd.Timestamp("2025-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)
MICROSECOND = pd.Timedelta(microseconds=1)


def both(data_dir: Path, cutoffs: list[pd.Timestamp], config: Config, *, by_day: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """build_features on the loaded program and the DuckDB version on its Parquet files."""
    program = load_program(data_dir, config.data, as_of=pd.Timestamp.now(tz="UTC"))
    ours = build_features(program.partners, program.events, cutoffs, config)
    duck = duckdb_window_features(data_dir / "partners.parquet", data_dir / "events.parquet", cutoffs, config, by_day=by_day)
    return ours, duck


def assert_same_window_features(ours: pd.DataFrame, duck: pd.DataFrame, config: Config) -> None:
    """Same rows in the same order; every window feature equal (ints exactly, floats to 1e-9)."""
    assert list(duck.columns) == ["partner_id", "as_of", *window_feature_names(config)]
    assert len(ours) == len(duck)
    np.testing.assert_array_equal(ours["partner_id"].to_numpy(), duck["partner_id"].to_numpy())
    np.testing.assert_array_equal(ours["as_of"].to_numpy(), duck["as_of"].to_numpy())
    kinds = {spec.name: spec.kind for spec in feature_schema(config)}
    for name in window_feature_names(config):
        if kinds[name] == "int":
            assert duck[name].dtype.kind == "i", name
            np.testing.assert_array_equal(ours[name].to_numpy(), duck[name].to_numpy(), err_msg=name)
        else:
            np.testing.assert_allclose(ours[name].to_numpy(), duck[name].to_numpy(), rtol=1e-9, atol=0, err_msg=name)


@pytest.mark.parametrize("by_day", [False, True], ids=["by_event", "by_day"])
def test_window_features_match_duckdb_on_a_generated_program(tmp_path: Path, by_day: bool) -> None:
    config = Config()
    write_program(generate_program(300, 6, seed=5), tmp_path)
    cutoffs = [pd.Timestamp(day, tz="UTC") for day in ("2025-02-01", "2025-04-15", "2025-07-01")]

    ours, duck = both(tmp_path, cutoffs, config, by_day=by_day)

    assert set(window_feature_names(config)) <= set(ours.columns)
    assert ours["as_of"].nunique() == 3
    assert (duck[window_feature_names(config)].to_numpy() != 0).any(axis=0).sum() >= 30  # not a test of zeros
    assert_same_window_features(ours, duck, config)


def write_tiny_program(out: Path) -> None:
    """Three partners: one with events on the window edges, one without events, one signed up at T0."""
    partners = pa.table(
        {
            "partner_id": ["A", "B", "C"],
            "signup_at": pa.array([T0 - 200 * DAY, T0 - 10 * DAY, T0], pa.timestamp("us", tz="UTC")),
        }
    )
    rows = [
        ("A", T0 - 200 * DAY + MICROSECOND, "click", 0.0),  # before every window of T0
        ("A", T0 - 180 * DAY, "sale", 10.25),  # first instant of the 180-day window
        ("A", T0 - 7 * DAY - MICROSECOND, "click", 0.0),  # just outside the 7-day window
        ("A", T0 - 7 * DAY, "click", 0.0),  # first instant of the 7-day window
        ("A", T0 - 2 * DAY, "sale", 3.5),
        ("A", T0 - 2 * DAY, "payout_paid", 7.0),
        ("A", T0 - MICROSECOND, "sale", 0.01),  # last instant before T0
        ("A", T0, "sale", 100.0),  # at T0: not before it
        ("C", T0 + DAY, "login", 0.0),
    ]
    events = pa.table(
        {
            "partner_id": [r[0] for r in rows],
            "ts": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "event_type": [r[2] for r in rows],
            "amount": [r[3] for r in rows],
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(partners, out / "partners.parquet")
    pq.write_table(events, out / "events.parquet")


@pytest.mark.parametrize("by_day", [False, True], ids=["by_event", "by_day"])
def test_window_edges_and_partners_without_events(tmp_path: Path, by_day: bool) -> None:
    config = Config()
    write_tiny_program(tmp_path)

    ours, duck = both(tmp_path, [T0], config, by_day=by_day)

    assert_same_window_features(ours, duck, config)
    assert duck["partner_id"].tolist() == ["A", "B"]  # C signed up at T0, not before it
    a, b = duck.iloc[0], duck.iloc[1]
    assert (a["click_count_7d"], a["click_count_30d"], a["click_count_180d"]) == (1, 2, 2)
    assert (a["sale_count_7d"], a["sale_count_180d"]) == (2, 3)
    assert a["revenue_7d"] == pytest.approx(3.51) and a["revenue_180d"] == pytest.approx(13.76)
    assert a["payout_paid_amount_7d"] == 7.0 and a["payout_paid_count_7d"] == 1
    assert (b[window_feature_names(config)] == 0).all()


def test_cutoff_before_every_signup_gives_no_rows(tmp_path: Path) -> None:
    config = Config()
    write_tiny_program(tmp_path)

    ours, duck = both(tmp_path, [T0 - 365 * DAY], config, by_day=True)

    assert len(ours) == 0 and len(duck) == 0
    assert list(duck.columns) == ["partner_id", "as_of", *window_feature_names(config)]


def test_day_rollup_refuses_cutoffs_off_midnight(tmp_path: Path) -> None:
    write_tiny_program(tmp_path)

    with pytest.raises(ValueError, match="UTC midnight"):
        duckdb_window_features(tmp_path / "partners.parquet", tmp_path / "events.parquet", [T0 + pd.Timedelta(hours=6)], Config(), by_day=True)


def test_the_benchmarks_window_only_path_matches_build_features(tmp_path: Path) -> None:
    """bench/features_bench.py times our window sums alone through the day table; keep it in step."""
    from bench.features_bench import our_window_features

    config = Config()
    write_program(generate_program(300, 6, seed=5), tmp_path)
    program = load_program(tmp_path, config.data, pd.Timestamp("2026-11-01", tz="UTC"))
    cutoffs = [pd.Timestamp(day, tz="UTC") for day in ("2025-04-15", "2025-07-01")]
    full = build_features(program.partners, program.events, cutoffs, config)
    window_only = our_window_features(program.partners, program.events, cutoffs, config)
    names = window_feature_names(config)
    pd.testing.assert_frame_equal(window_only[["partner_id", *names]], full[["partner_id", *names]], check_dtype=False)
