"""The score history without models: comparisons with the previous scoring worked by hand, entries written
and replaced atomically, the previous scoring found by time, one partner's history, damaged entries."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_churn.config import load_config
from partner_churn.domain import FIRST_SCORING
from partner_churn.errors import InputError
from serving.core import PreviousScoring, compare_with_previous
from serving.history import HISTORY_COLUMNS, HistoryReader, entry_dates, entry_path, partner_history, previous_scoring, risk_bands, write_entry

CONFIG = load_config(env={})
WEEK = pd.Timedelta(days=7)
DAY1 = pd.Timestamp("2026-06-17", tz="UTC")


def scoring(ids: list[str], segments: list[str], risks: list[float], *, high: float = 0.5) -> dict[str, np.ndarray]:
    risk = np.array(risks, dtype=float)
    band = np.where(np.isnan(risk), "inactive", np.where(risk >= high, "high", np.where(risk >= 0.2, "medium", "low")))
    return {
        "partner_id": np.array(ids, dtype=object),
        "segment": np.array(segments, dtype=object),
        "deactivation_risk": risk,
        "risk_band": band.astype(object),
    }


def entry(columns: dict[str, np.ndarray], changes: dict[str, object], as_of: pd.Timestamp) -> pd.DataFrame:
    """A history entry's rows as batch scoring makes them (the columns the history keeps)."""
    frame = pd.DataFrame({**columns, **changes})
    frame["weeks_in_high_band"] = frame["weeks_in_high_band"].astype("Int64")
    frame["as_of"], frame["scored_at"] = as_of, as_of + pd.Timedelta(hours=6)
    for name in ("days_since_last_activity", "upgrade_potential", "value_at_risk", "expected_revenue"):
        frame[name] = 1.0
    frame["potential_band"], frame["action"], frame["model_version"] = "low", "group_support", "risk:v1 potential:v1"
    return frame[HISTORY_COLUMNS]


def test_three_scorings_compared_by_hand() -> None:
    """A: high, high, high; B: medium, high, high; C: high, low, high; D: inactive, low, medium; E: new in the
    second scoring. Trend step 0.05: +0.04 is steady."""
    first = scoring(["A", "B", "C", "D"], ["workhorse", "workhorse", "star", "sleeper"], [0.6, 0.3, 0.7, np.nan])
    one = compare_with_previous(first, None, DAY1, CONFIG)
    assert list(one["segment_change"]) == [FIRST_SCORING] * 4
    assert np.isnan(one["previous_risk"]).all() and np.isnan(one["risk_change"]).all() and list(one["risk_trend"]) == [None] * 4
    assert list(one["weeks_in_high_band"][[0, 2]]) == [0, 0] and np.isnan(one["weeks_in_high_band"][[1, 3]]).all()
    assert list(pd.DatetimeIndex(one["high_band_since"])[[0, 2]]) == [DAY1, DAY1] and pd.isna(one["high_band_since"][1])

    day2 = DAY1 + WEEK
    second = scoring(["A", "B", "C", "D", "E"], ["workhorse", "workhorse", "workhorse", "newbie", "newbie"], [0.64, 0.55, 0.1, 0.1, 0.9])
    two = compare_with_previous(second, PreviousScoring(DAY1, entry(first, one, DAY1).set_index("partner_id")), day2, CONFIG)
    assert list(two["previous_segment"]) == ["workhorse", "workhorse", "star", "sleeper", None]
    assert list(two["segment_change"]) == ["same", "same", "star -> workhorse", "sleeper -> newbie", "new"]
    np.testing.assert_allclose(two["previous_risk"], [0.6, 0.3, 0.7, np.nan, np.nan])
    np.testing.assert_allclose(two["risk_change"], [0.04, 0.25, -0.6, np.nan, np.nan])
    assert list(two["risk_trend"]) == ["→", "↑", "↓", None, None]
    since = pd.DatetimeIndex(two["high_band_since"])
    assert since[0] == DAY1 and since[1] == day2 and pd.isna(since[2]) and pd.isna(since[3]) and since[4] == day2
    assert list(np.nan_to_num(two["weeks_in_high_band"], nan=-1)) == [1, 0, -1, -1, 0]

    day3 = day2 + WEEK
    third = scoring(["A", "B", "C", "D", "E"], ["workhorse"] * 5, [0.7, 0.5, 0.8, 0.3, 0.95])
    three = compare_with_previous(third, PreviousScoring(day2, entry(second, two, day2).set_index("partner_id")), day3, CONFIG)
    since = pd.DatetimeIndex(three["high_band_since"])
    assert list(since[[0, 1, 2, 4]]) == [DAY1, day2, day3, day2] and pd.isna(since[3])  # C left the band and came back: anew
    assert list(np.nan_to_num(three["weeks_in_high_band"], nan=-1)) == [2, 1, 0, -1, 1]

    wider = load_config(env={}, overrides=["scoring.risk_trend_step=0.3"])
    assert list(compare_with_previous(second, PreviousScoring(DAY1, entry(first, one, DAY1).set_index("partner_id")), day2, wider)["risk_trend"]) == [
        "→",
        "→",
        "↓",
        None,
        None,
    ]


def test_an_entry_without_the_date_it_entered_counts_from_that_scoring() -> None:
    """An entry whose high partner has no high_band_since (written by hand, or damaged) counts from its own time."""
    first = scoring(["A"], ["star"], [0.9])
    rows = entry(first, {**compare_with_previous(first, None, DAY1, CONFIG), "high_band_since": [pd.NaT]}, DAY1)
    later = compare_with_previous(first, PreviousScoring(DAY1, rows.set_index("partner_id")), DAY1 + 3 * WEEK, CONFIG)
    assert pd.DatetimeIndex(later["high_band_since"])[0] == DAY1 and later["weeks_in_high_band"][0] == 3


def written(folder: Path, as_of: pd.Timestamp, ids: list[str], risks: list[float], previous: PreviousScoring | None = None) -> pd.DataFrame:
    columns = scoring(ids, ["workhorse"] * len(ids), risks)
    rows = entry(columns, compare_with_previous(columns, previous, as_of, CONFIG), as_of)
    write_entry(rows, folder, as_of, active_partners=len(ids))
    return rows


def test_entries_are_found_by_time_and_replaced_whole(tmp_path: Path) -> None:
    assert previous_scoring(tmp_path, DAY1) is None and entry_dates(tmp_path) == []
    written(tmp_path, DAY1, ["A", "B"], [0.6, 0.1])
    written(tmp_path, DAY1 + WEEK, ["A", "B", "C"], [0.7, 0.1, 0.2], previous_scoring(tmp_path, DAY1 + WEEK))
    assert entry_dates(tmp_path) == [DAY1, DAY1 + WEEK]
    assert previous_scoring(tmp_path, DAY1) is None  # batch passes the date's midnight: a date never compares with itself
    assert previous_scoring(tmp_path, DAY1 + pd.Timedelta(hours=1)).as_of == DAY1  # the service, an hour after the scoring
    assert previous_scoring(tmp_path, DAY1 + WEEK).as_of == DAY1
    assert previous_scoring(tmp_path, DAY1 + 30 * WEEK).as_of == DAY1 + WEEK

    inode = os.stat(entry_path(tmp_path, DAY1 + WEEK)).st_ino
    written(tmp_path, DAY1 + WEEK, ["A"], [0.2], previous_scoring(tmp_path, DAY1 + WEEK))  # a rescoring of the date
    assert os.stat(entry_path(tmp_path, DAY1 + WEEK)).st_ino != inode  # renamed into place, not rewritten in place
    assert list(previous_scoring(tmp_path, DAY1 + 2 * WEEK).rows.index) == ["A"]
    assert [p.name for p in (tmp_path / "history").iterdir() if p.name.startswith(".")] == []  # no temporary left

    write_entry(written(tmp_path, DAY1 + 2 * WEEK, ["A"], [0.9]).iloc[0:0], tmp_path, DAY1 + 2 * WEEK, active_partners=0)
    assert entry_dates(tmp_path) == [DAY1, DAY1 + WEEK]  # a forced scoring of nobody active removes the date's entry
    assert previous_scoring(tmp_path, DAY1 + 3 * WEEK).as_of == DAY1 + WEEK


def test_one_partners_history_and_its_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no score history in .*history: run partner-churn score --as-of DATE first"):
        partner_history(tmp_path, "A")
    written(tmp_path, DAY1, ["A", "B"], [0.6, 0.1])
    written(tmp_path, DAY1 + WEEK, ["A", "B"], [0.7, 0.5], previous_scoring(tmp_path, DAY1 + WEEK))
    written(tmp_path, DAY1 + 2 * WEEK, ["B"], [0.2], previous_scoring(tmp_path, DAY1 + 2 * WEEK))
    a = partner_history(tmp_path, "A")
    assert list(a["as_of"]) == [DAY1, DAY1 + WEEK] and list(a["weeks_in_high_band"]) == [0, 1]
    b = partner_history(tmp_path, "B")
    assert list(b["risk_trend"]) == [None, "↑", "↓"] and list(b["risk_band"]) == ["low", "high", "medium"]
    with pytest.raises(InputError, match=r"partner 'Z' is in none of the 3 scorings in .* \(2026-06-17 to 2026-07-01\)"):
        partner_history(tmp_path, "Z")

    bands = risk_bands(tmp_path)  # what partner-churn effects reads: every scoring's band of every partner
    assert bands is not None and list(bands.columns) == ["partner_id", "as_of", "risk_band"]
    assert sorted(zip(bands["partner_id"], bands["risk_band"])) == sorted(
        [("A", "high"), ("B", "low"), ("A", "high"), ("B", "high"), ("B", "medium")]
    )
    assert risk_bands(tmp_path / "elsewhere") is None

    entry_path(tmp_path, DAY1 + 3 * WEEK).write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match=r"history: cannot read the score history"):
        risk_bands(tmp_path)
    with pytest.raises(InputError, match=r"2026-07-08\.parquet: cannot read the score history entry .*score 2026-07-08 again or remove the file"):
        previous_scoring(tmp_path, DAY1 + 4 * WEEK)


def test_the_services_reader_sees_a_new_scoring_and_a_rescoring(tmp_path: Path) -> None:
    reader = HistoryReader(tmp_path)
    assert reader.previous(DAY1 + WEEK) is None  # no history folder at all
    written(tmp_path, DAY1, ["A"], [0.6])
    assert list(reader.previous(DAY1 + WEEK).rows["deactivation_risk"]) == [0.6]
    written(tmp_path, DAY1, ["A"], [0.3])  # rescored: the same file name, a new file
    assert list(reader.previous(DAY1 + WEEK).rows["deactivation_risk"]) == [0.3]
    written(tmp_path, DAY1 + WEEK, ["A"], [0.8])
    assert reader.previous(DAY1 + WEEK + pd.Timedelta(minutes=1)).as_of == DAY1 + WEEK
    entry_path(tmp_path, DAY1 + WEEK).write_bytes(b"broken")
    assert reader.previous(DAY1 + 2 * WEEK) is None  # a damaged history answers without a comparison, not with an error


def test_a_damaged_or_odd_history_is_one_line_or_no_comparison(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A rescoring of a date never reads that date's own (here damaged) entry; a file that is no entry is
    ignored; an entry with a partner twice is refused in one line; the service logs a damaged entry once
    and answers without a comparison."""
    written(tmp_path, DAY1, ["A"], [0.6])
    entry_path(tmp_path, DAY1 + WEEK).write_bytes(b"broken")
    (tmp_path / "history" / "2026-13-01.parquet").write_bytes(b"someone's file")
    assert entry_dates(tmp_path) == [DAY1, DAY1 + WEEK]
    assert previous_scoring(tmp_path, DAY1 + WEEK).as_of == DAY1  # scoring DAY1 + WEEK again works
    with pytest.raises(InputError, match=r"2026-06-24\.parquet: cannot read the score history entry"):
        previous_scoring(tmp_path, DAY1 + 2 * WEEK)

    reader = HistoryReader(tmp_path)
    with caplog.at_level("WARNING", logger="partner_churn.history"):
        assert reader.previous(DAY1 + WEEK + pd.Timedelta(hours=1)) is None
        assert reader.previous(DAY1 + WEEK + pd.Timedelta(hours=2)) is None
    assert len([r for r in caplog.records if "2026-06-24.parquet" in r.getMessage()]) == 1
    written(tmp_path, DAY1 + WEEK, ["A"], [0.9])  # replaced: read again
    assert reader.previous(DAY1 + 2 * WEEK).as_of == DAY1 + WEEK

    twice = written(tmp_path, DAY1 + 2 * WEEK, ["A"], [0.5])
    write_entry(pd.concat([twice, twice]), tmp_path, DAY1 + 2 * WEEK, active_partners=2)
    with pytest.raises(InputError, match=r"partner_id 'A' appears more than once"):
        previous_scoring(tmp_path, DAY1 + 3 * WEEK)
