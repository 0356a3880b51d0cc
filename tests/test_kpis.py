"""The owner's KPIs: partner LTV worked by hand, trends recomputed at earlier cutoffs agreeing with one
cutoff at a time, the figures that need a scoring taken from the score history's nearest entry, kpis.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.events import EventArrays
from features.pipeline import build_features, build_labels
from partner_churn.config import Config, load_config
from partner_churn.domain import active_mask
from scoring.ltv import PaceGrowth, ltv_periods, pace_growth, partner_ltv, program_ltv
from serving.history import HISTORY_COLUMNS, scorings_near, write_entry
from serving.kpis import KPI_KEYS, MONTH_AGO, THREE_MONTHS_AGO, event_kpis, kpis_json, owner_kpis, trend_cutoffs

AS_OF = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta(days=1)
CONFIG = load_config(env={})


def partners_frame(rows: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"partner_id": list(rows), "signup_at": pd.to_datetime(list(rows.values()), utc=True)})


def events_frame(rows: list[tuple[str, pd.Timestamp, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["partner_id", "ts", "event_type", "amount"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def view(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    """A scoring's columns: partner_id, segment, days_since_last_activity, deactivation_risk, expected_revenue."""
    return pd.DataFrame(rows, columns=["partner_id", "segment", "days_since_last_activity", "deactivation_risk", "expected_revenue"])


def test_ltv_by_hand() -> None:
    n = ltv_periods(CONFIG)
    assert n == pytest.approx(12 * 365.25 / 12 / 30)  # 12 months of 30-day horizons
    scored = view(
        [
            ("never_leaves", "star", 1.0, 0.0, 1000.0),  # the horizon's revenue at today's pace: 1000 n
            ("half", "workhorse", 3.0, 0.5, 100.0),  # 100 (0.5 + 0.25 + ...) -> 100 (1 - 0.5^n)
            ("certain", "workhorse", 30.0, 1.0, 500.0),  # leaves now: nothing, all of its pace at risk
            ("silent", "sleeper", 31.0, np.nan, 80.0),  # not active (31 > 30 days): 0, nothing at risk
            ("never_active", "newbie", np.nan, np.nan, 0.0),
        ]
    )
    scored["tenure_days"] = 400.0
    values = partner_ltv(scored, CONFIG)
    np.testing.assert_allclose(values["ltv"], [1000 * n, 100 * (1 - 0.5**n), 0.0, 0.0, 0.0])
    np.testing.assert_allclose(values["ltv_at_risk"], [0.0, 100 * n - 100 * (1 - 0.5**n), 500 * n, 0.0, 0.0])
    # A partner 30 days old sold for 30 of the window's 90 days: its pace is three times the window's average.
    young = partner_ltv(scored, CONFIG, tenure_days=[30.0, 400.0, 400.0, 400.0, 2.0])
    np.testing.assert_allclose(young["ltv"], [3000 * n, 100 * (1 - 0.5**n), 0.0, 0.0, 0.0])
    # Growth measured in the history multiplies the pace of its tenure band only (>= 365 days here: 1.5).
    grown = partner_ltv(scored, CONFIG, growth=PaceGrowth(AS_OF, {">=365d": 1.5, "<90d": 4.0}, {}))
    np.testing.assert_allclose(grown["ltv"], 1.5 * values["ltv"])
    # A shorter horizon or a longer label horizon changes n, not the rule.
    three = load_config(env={}, overrides=["scoring.ltv_horizon_months=3", "labels.horizon_days=60"])
    assert ltv_periods(three) == pytest.approx(3 * 365.25 / 12 / 60)
    assert partner_ltv(scored, three)["ltv"][0] == pytest.approx(1000 * ltv_periods(three))  # a 60-day horizon's revenue, per 60 days


def test_program_ltv_sums_by_segment_and_sign_up_quarter_and_is_unknown_without_a_risk_score() -> None:
    scored = view([("a", "star", 1.0, 0.0, 10.0), ("b", "star", 2.0, 0.0, 20.0), ("c", "newbie", 5.0, 0.0, 5.0), ("d", "sleeper", 99.0, np.nan, 0.0)])
    signup = pd.Series(pd.to_datetime(["2025-01-15", "2025-03-31", "2025-04-01", "2025-11-30"], utc=True), index=list("abcd"))
    n = ltv_periods(CONFIG)
    ltv = program_ltv(scored, signup, AS_OF, CONFIG)  # every partner older than the 90-day window
    assert ltv.ltv == pytest.approx(35 * n) and ltv.ltv_at_risk == 0 and ltv.at_pace == pytest.approx(35 * n)
    assert list(ltv.by_segment.index) == ["star", "workhorse", "newbie", "sleeper"]
    assert ltv.by_segment.loc["star", "partners"] == 2 and ltv.by_segment.loc["star", "ltv_per_partner"] == pytest.approx(15 * n)
    assert ltv.by_segment.loc["workhorse", "partners"] == 0 and np.isnan(ltv.by_segment.loc["workhorse", "ltv_per_partner"])
    assert list(ltv.by_cohort.index) == ["2025Q1", "2025Q2", "2025Q4"] and list(ltv.by_cohort["partners"]) == [2, 1, 1]
    assert ltv.by_cohort.loc["2025Q1", "ltv"] == pytest.approx(30 * n)
    unscored = scored.assign(deactivation_risk=[0.0, np.nan, 0.0, np.nan])  # b is active, its risk model did not score
    assert math.isnan(program_ltv(unscored, signup, AS_OF, CONFIG).ltv)


PARTNERS = pd.DataFrame({"partner_id": ["A", "B", "C"], "signup_at": pd.to_datetime(["2025-06-01", "2025-06-01", "2026-02-05"], utc=True)})
EVENTS = events_frame(
    [
        ("A", AS_OF - 100 * DAY, "sale", 10.0),
        ("A", AS_OF - 70 * DAY, "login", 0.0),
        ("A", AS_OF - 5 * DAY, "sale", 40.0),
        ("B", AS_OF - 95 * DAY, "click", 0.0),
        ("B", AS_OF - 40 * DAY, "sale", 25.0),
        ("C", AS_OF - 20 * DAY, "sale", 7.0),
        ("C", AS_OF + 3 * DAY, "sale", 99.0),  # after the cutoff: unseen at every cutoff
    ]
)


def test_a_trend_is_each_cutoff_computed_on_its_own() -> None:
    cutoffs = trend_cutoffs(AS_OF)
    assert cutoffs[-1] == AS_OF and cutoffs[0] == AS_OF - 180 * DAY and len(cutoffs) == 7
    surveys = pd.DataFrame({"partner_id": ["A", "B", "A"], "ts": [AS_OF - 80 * DAY, AS_OF - 50 * DAY, AS_OF - 10 * DAY], "score": [3.0, 10.0, 9.0]})
    trend = event_kpis(EventArrays.of(PARTNERS, EVENTS, CONFIG), cutoffs, CONFIG, surveys=surveys)
    assert list(trend.index) == cutoffs and list(trend.columns) == list(KPI_KEYS)
    for cutoff in cutoffs:
        alone = event_kpis(EventArrays.of(PARTNERS, EVENTS, CONFIG), [cutoff], CONFIG, surveys=surveys).iloc[0]
        pd.testing.assert_series_equal(trend.loc[cutoff], alone, check_names=False)
    now, month_ago = trend.loc[AS_OF], trend.loc[AS_OF - 30 * DAY]
    assert now["active_partners"] == 2 and now["partners"] == 3  # A (5 days), C (20 days); B silent 40 days
    assert month_ago["active_partners"] == 1 and month_ago["partners"] == 2  # B (10 days before 30 days ago); C not signed up
    assert now["existing_partner_revenue"] == 40.0 and month_ago["existing_partner_revenue"] == 25.0  # C joined inside the window
    assert now["nps"] == pytest.approx(100.0) and now["nps_answers"] == 2  # A's latest 9, B's 10
    assert month_ago["nps"] == pytest.approx(0.0)  # A's 3 and B's 10
    assert trend.loc[cutoffs[0], "partners"] == 2 and np.isnan(trend.loc[cutoffs[0], "nps"])  # before the first answer
    assert trend[["partner_ltv", "ltv_at_risk", "ltv_at_risk_share"]].isna().all().all()  # a scoring decides those
    assert event_kpis(EventArrays.of(PARTNERS, EVENTS, CONFIG), cutoffs, CONFIG)["nps"].isna().all()  # no surveys: no NPS, not 0


def history_row(partner_id: str, segment: str, silent: float, risk: float, revenue: float, as_of: pd.Timestamp) -> dict:
    return {
        **dict.fromkeys(HISTORY_COLUMNS),
        "as_of": as_of,
        "scored_at": as_of,
        "partner_id": partner_id,
        "segment": segment,
        "days_since_last_activity": silent,
        "deactivation_risk": risk,
        "expected_revenue": revenue,
        "high_band_since": pd.NaT,
        "risk_band": "low",
    }


def test_ltv_and_nps_by_segment_come_from_the_scoring_nearest_each_earlier_cutoff(tmp_path: Path) -> None:
    month_ago, three_months_ago = AS_OF - 30 * DAY, AS_OF - 90 * DAY
    entries = {
        month_ago + 3 * DAY: [("A", "star", 2.0, 0.0, 30.0), ("B", "workhorse", 4.0, 0.5, 20.0)],  # 3 days off: stands for a month ago
        month_ago - 3 * DAY: [("A", "star", 2.0, 0.0, 1.0)],  # as near, earlier: the later one wins
        three_months_ago - 9 * DAY: [("A", "newbie", 2.0, 0.0, 5.0)],  # 9 days off: too far
        AS_OF: [("A", "star", 5.0, 0.0, 999.0)],  # the date being scored: never its own trend point
    }
    for day, rows in entries.items():
        write_entry(pd.DataFrame([history_row(*row, as_of=day) for row in rows]), tmp_path, day, active_partners=len(rows))
    earlier = scorings_near(tmp_path, trend_cutoffs(AS_OF)[:-1], within_days=7, before=AS_OF)
    assert list(earlier) == [month_ago] and sorted(earlier[month_ago]["partner_id"]) == ["A", "B"]

    scored = view([("A", "star", 5.0, 0.1, 40.0), ("B", "sleeper", 40.0, np.nan, 0.0), ("C", "newbie", 20.0, 0.2, 7.0)])
    surveys = pd.DataFrame({"partner_id": ["A", "B", "C"], "ts": [AS_OF - 31 * DAY] * 2 + [AS_OF - 2 * DAY], "score": [10.0, 2.0, 9.0]})
    kpis = owner_kpis(PARTNERS, EVENTS, AS_OF, CONFIG, scored, surveys=surveys, earlier=earlier)
    n = ltv_periods(CONFIG)
    c_pace = 7 * 90 / 24  # C signed up 24 days ago: 7 of revenue per horizon over 90 days is 26.25 over its 24
    expected_now = 40 * 0.9 * (1 - 0.9**n) / 0.1 + c_pace * 0.8 * (1 - 0.8**n) / 0.2
    assert kpis.value("partner_ltv") == pytest.approx(expected_now)
    assert kpis.value("partner_ltv", MONTH_AGO) == pytest.approx(30 * n + 20 * (1 - 0.5**n))
    assert np.isnan(kpis.value("partner_ltv", THREE_MONTHS_AGO))  # no scoring near it
    assert kpis.value("ltv_at_risk_share") == pytest.approx(1 - expected_now / ((40 + c_pace) * n))
    assert kpis.ltv is not None and kpis.ltv.by_segment.loc["newbie", "partners"] == 1
    nps = kpis.nps_by_segment
    assert nps is not None and list(nps.columns) == ["all", "star", "workhorse", "newbie", "sleeper"]
    # Now: A (star) 10, B (sleeper) 2, C (newbie) 9. A month ago: A 10 as a star, B 2 as a workhorse; no answer of C yet.
    assert nps.loc[AS_OF].to_dict() == pytest.approx(
        {"all": 100 / 3, "star": 100.0, "workhorse": np.nan, "newbie": 100.0, "sleeper": -100.0}, nan_ok=True
    )
    assert nps.loc[month_ago, ["all", "star", "workhorse"]].tolist() == [0.0, 100.0, -100.0] and np.isnan(nps.loc[month_ago, "sleeper"])
    assert nps.loc[three_months_ago].isna().all() and np.isnan(kpis.value("nps", THREE_MONTHS_AGO))  # nobody had answered yet

    figures = json.loads(json.dumps(kpis_json(kpis), allow_nan=False))  # strict JSON: undecided figures are null
    ltv = figures["kpis"]["partner_ltv"]
    assert ltv["value"] == pytest.approx(expected_now) and ltv["three_months_ago"] is None
    assert [point["value"] is not None for point in ltv["trend"]] == [False, False, False, False, False, True, True]
    assert figures["ltv_horizon_months"] == 12 and {row["group"] for row in figures["ltv_by_cohort"]} == {"2025Q2", "2026Q1"}


def test_without_a_risk_score_the_ltv_is_undecided_not_the_sum_of_the_rest() -> None:
    scored = view([("A", "star", 5.0, np.nan, 40.0), ("C", "newbie", 20.0, np.nan, 7.0)])  # the risk model unavailable
    kpis = owner_kpis(PARTNERS, EVENTS, AS_OF, CONFIG, scored)
    assert np.isnan(kpis.value("partner_ltv")) and kpis.ltv is None and kpis.nps_by_segment is None
    assert kpis_json(kpis)["ltv_by_segment"] is None and kpis.value("active_partners") == 2


TINY_PARTNERS = partners_frame(
    {"A": "2025-10-01", "B": "2025-10-01", "C": "2026-02-09", "D": "2025-12-15", "E": "2025-10-01", "F": "2025-10-01", "G": "2026-03-05"}
)
TINY_EVENTS = events_frame(
    [
        ("A", pd.Timestamp("2025-11-01", tz="UTC"), "sale", 1000.0),  # first sale long ago
        ("A", AS_OF - 45 * DAY, "login", 0.0),  # active a window ago
        ("A", AS_OF - 10 * DAY, "sale", 100.0),  # active now; existing partner's revenue
        ("A", AS_OF + 1 * DAY, "sale", 999.0),  # after the cutoff: unseen
        ("B", AS_OF - 50 * DAY, "sale", 50.0),  # previous window's revenue; first sale 101 days after sign-up
        ("B", AS_OF - 40 * DAY, "click", 0.0),  # active a window ago, silent since: churned
        ("C", AS_OF - 5 * DAY, "sale", 70.0),  # signed up 20 days ago: new, not existing; first sale after 15 days
        ("D", AS_OF - 50 * DAY, "sale", 30.0),  # previous window; first sale 26 days after sign-up; churned
        ("E", AS_OF - 40 * DAY, "message_opened", 0.0),  # not qualifying
        ("E", AS_OF - 3 * DAY, "payout_paid", 20.0),  # not qualifying, not a sale
        ("F", AS_OF - 60 * DAY, "login", 0.0),  # exactly at the start of the earlier window: active then
        ("F", AS_OF - 30 * DAY, "login", 0.0),  # exactly at the start of the window: active now
        ("G", AS_OF + 2 * DAY, "sale", 10.0),  # signs up after the cutoff
    ]
)


def test_kpis_on_a_hand_worked_program() -> None:
    features = build_features(TINY_PARTNERS, TINY_EVENTS, [AS_OF], CONFIG)
    kpis = event_kpis(EventArrays.of(TINY_PARTNERS, TINY_EVENTS, CONFIG), [AS_OF], CONFIG).iloc[0]
    assert set(kpis.index) == set(KPI_KEYS)
    assert kpis["partners"] == 6  # G signs up after the cutoff
    assert kpis["active_partners"] == 3 == active_mask(features, CONFIG).sum()  # A, C, F: the feature pipeline's recency
    assert kpis["active_partners_before"] == 4  # A, B, D, F
    assert kpis["churned_partners"] == 2 and kpis["partner_churn_rate"] == 0.5  # B, D
    assert kpis["existing_partner_revenue"] == 100.0  # A; C signed up inside the window
    assert kpis["existing_partner_revenue_previous"] == 80.0  # B + D
    assert kpis["existing_partner_revenue_change"] == pytest.approx(0.25)
    assert kpis["first_results"] == 3  # B, C, D; A's first sale is older than 90 days
    assert kpis["days_to_first_result"] == pytest.approx(26.0)  # median of 101, 15, 26


def test_kpis_of_a_program_without_activity_are_nan_not_errors() -> None:
    events = TINY_EVENTS[TINY_EVENTS["event_type"].isin(["message_opened", "payout_paid"])]
    features = build_features(TINY_PARTNERS, events, [AS_OF], CONFIG)
    kpis = event_kpis(EventArrays.of(TINY_PARTNERS, events, CONFIG), [AS_OF], CONFIG).iloc[0]
    assert active_mask(features, CONFIG).sum() == 0
    assert kpis["active_partners"] == 0 and kpis["active_partners_before"] == 0
    assert np.isnan(kpis["partner_churn_rate"]) and np.isnan(kpis["existing_partner_revenue_change"])
    assert np.isnan(kpis["days_to_first_result"]) and kpis["first_results"] == 0


def reference_kpis(partners: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp, config: Config) -> dict[str, float]:
    """The definitions read literally, one partner at a time."""
    window, qualifying = config.labels.active_window_days * DAY, set(config.labels.qualifying_event_types)
    out = {"before": 0, "churned": 0, "now": 0.0, "previous": 0.0, "now_of_previous": 0.0}
    first_days = []
    for partner in partners.itertuples():
        if partner.signup_at >= as_of:
            continue
        mine = events[(events["partner_id"] == partner.partner_id) & (events["ts"] < as_of)]
        acts = mine[mine["event_type"].isin(qualifying)]["ts"]
        was = ((acts >= as_of - 2 * window) & (acts < as_of - window)).any()
        is_ = (acts >= as_of - window).any()
        out["before"] += was
        out["churned"] += was and not is_
        sales = mine[mine["event_type"] == "sale"]
        month = 30 * DAY
        if partner.signup_at < as_of - month:
            out["now"] += sales.loc[sales["ts"] >= as_of - month, "amount"].sum()
        if partner.signup_at < as_of - 2 * month:  # growth: the same partners in both windows
            out["previous"] += sales.loc[(sales["ts"] >= as_of - 2 * month) & (sales["ts"] < as_of - month), "amount"].sum()
            out["now_of_previous"] += sales.loc[sales["ts"] >= as_of - month, "amount"].sum()
        if len(sales) and sales["ts"].min() >= as_of - 90 * DAY:
            first_days.append((sales["ts"].min() - partner.signup_at) / DAY)
    return {
        "active_partners_before": out["before"],
        "churned_partners": out["churned"],
        "existing_partner_revenue": out["now"],
        "existing_partner_revenue_previous": out["previous"],
        "existing_partner_revenue_change": out["now_of_previous"] / out["previous"] - 1 if out["previous"] else float("nan"),
        "first_results": len(first_days),
        "days_to_first_result": float(np.median(first_days)) if first_days else float("nan"),
    }


def test_kpis_agree_with_the_reference_and_churn_with_the_deactivation_label() -> None:
    rng = np.random.default_rng(5)
    n = 60
    partners = pd.DataFrame({"partner_id": [f"R{i:03d}" for i in range(n)], "signup_at": AS_OF - pd.to_timedelta(rng.uniform(-10, 200, n), unit="D")})
    rows = []
    for partner in partners.itertuples():
        for _ in range(int(rng.integers(0, 25))):
            ts = partner.signup_at + pd.Timedelta(days=float(rng.uniform(0, 220)))
            kind = str(rng.choice(["login", "click", "sale", "payout_paid", "message_opened"]))
            rows.append((partner.partner_id, ts, kind, round(float(rng.uniform(10, 500)), 2) if kind in ("sale", "payout_paid") else 0.0))
    events = events_frame(rows)
    events["partner_id"] = events["partner_id"].astype(pd.CategoricalDtype(partners["partner_id"]))
    features = build_features(partners, events, [AS_OF], CONFIG)
    kpis = event_kpis(EventArrays.of(partners, events, CONFIG), [AS_OF], CONFIG).iloc[0]
    assert kpis["active_partners"] == active_mask(features, CONFIG).sum()
    expected = reference_kpis(partners, events, AS_OF, CONFIG)
    assert expected["churned_partners"] > 0 and expected["first_results"] > 2  # the case is not degenerate
    # partners who joined between the two windows earn in the later one only: they must not count as growth
    assert any(AS_OF - 60 * DAY <= t < AS_OF - 30 * DAY for t in partners["signup_at"])
    for key, value in expected.items():
        assert kpis[key] == pytest.approx(value, nan_ok=True), key
    labels = build_labels(partners, events, [AS_OF - 30 * DAY], CONFIG, data_end=AS_OF)
    assert kpis["partner_churn_rate"] == pytest.approx(labels["deactivated"].mean())


def test_pace_growth_is_what_partners_who_stayed_active_earned_over_their_pace() -> None:
    """40 partners older than a year, each with 90 of sales in the window before the cutoff a year back (a pace
    of 30 per 30 days), then 60 in every 30-day period while active: 20 stay all 12 periods, 20 leave after 6
    (one of them comes back in period 10: a comeback, not growth). Growth = 60 / 30 = 2 exactly; a band of
    5 young partners is too small to measure."""
    start = AS_OF - 12 * 30 * DAY
    rows, partners = [], []
    for i in range(45):
        pid, young = f"P{i:02d}", i >= 40
        partners.append((pid, start - (20 if young else 800) * DAY))
        rows += [(pid, start - 10 * DAY, "sale", 90.0), (pid, start - 5 * DAY, "login", 0.0)]
        for k in range(12 if i < 20 or young else 6):
            rows.append((pid, start + (30 * k + 3) * DAY, "sale", 60.0))
    rows += [("P30", start + (30 * 10 + 3) * DAY, "sale", 500.0), ("P00", start - 200 * DAY, "login", 0.0)]
    frame = pd.DataFrame(partners, columns=["partner_id", "signup_at"])
    growth = pace_growth(EventArrays.of(frame, events_frame(rows), CONFIG), AS_OF, CONFIG)
    assert growth.measured_at == start and growth.partners[">=365d"] == 40 and growth.partners["<90d"] == 5
    assert growth.factors == pytest.approx({">=365d": 2.0})  # the young band has too few partners: no factor (1)
    np.testing.assert_allclose(growth.of(np.array([10.0, 500.0])), [1.0, 2.0])
    short = events_frame([r for r in rows if r[1] >= start - 60 * DAY])  # no window of history before the earlier cutoff
    assert pace_growth(EventArrays.of(frame, short, CONFIG), AS_OF, CONFIG).measured_at is None
