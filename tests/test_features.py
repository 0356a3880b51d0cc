"""The point-in-time feature pipeline against a slow, obvious reference (tests/reference_features.py).

Tiny hand-built frames and a seeded random program: the pipeline must agree with the reference on every
column. Hand-worked numbers check the reference itself; a property test checks that nothing at or after
the cutoff leaks into a feature; the one-partner path (the service's) must agree with the batch path.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import pipeline
from features.pipeline import build_features, build_labels, lookback_days, program_context
from features.schema import feature_names, feature_schema
from features.segments import SEGMENTS
from partner_churn.config import Config
from partner_churn.errors import InputError
from tests.reference_features import reference_features, reference_labels

CONFIG = Config()
DAY = pd.Timedelta(days=1)
NAN = float("nan")
META_COLUMNS = ["partner_id", "as_of"]
TAIL_COLUMNS = ["segment", "downgrade_warning"]
LABEL_COLUMNS = ["partner_id", "as_of", "active", "deactivated", "upgraded", "segment", "segment_at_horizon", "revenue_next_horizon"]


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# ---------------------------------------------------------------------------------------------------
# Frames shaped like the contract loader's output


def make_partners(rows: Sequence[tuple[str, str | pd.Timestamp, str | None, str | None, float]]) -> pd.DataFrame:
    """partner_id, signup_at, partner_type, country, commission_rate (declared attributes, in config order)."""
    return pd.DataFrame(
        {
            "partner_id": pd.Series([r[0] for r in rows], dtype=object),
            "signup_at": pd.to_datetime(pd.Series([pd.Timestamp(r[1]) for r in rows], dtype=object), utc=True).astype("datetime64[ns, UTC]"),
            "partner_type": pd.Series([r[2] for r in rows], dtype=object),
            "country": pd.Series([r[3] for r in rows], dtype=object),
            "commission_rate": pd.Series([r[4] for r in rows], dtype="float64"),
        }
    )


def make_events(rows: Sequence[tuple[str, str | pd.Timestamp, str, float]], partners: pd.DataFrame, config: Config = CONFIG) -> pd.DataFrame:
    """Events in contract order: sorted by partner (category order) then ts, stable, index 0..n-1."""
    frame = pd.DataFrame(
        {
            "partner_id": pd.Categorical([r[0] for r in rows], categories=pd.Index(partners["partner_id"], dtype=object)),
            "ts": pd.Series([pd.Timestamp(r[1]) for r in rows], dtype="datetime64[ns, UTC]") if rows else pd.Series([], dtype="datetime64[ns, UTC]"),
            "event_type": pd.Categorical([r[2] for r in rows], categories=pd.Index(config.data.event_types, dtype=object)),
            "amount": pd.Series([float(r[3]) for r in rows], dtype="float64"),
        }
    )
    assert not frame["partner_id"].isna().any() and not frame["event_type"].isna().any()
    return sort_events(frame)


def sort_events(events: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort((events["ts"].array.asi8, events["partner_id"].cat.codes.to_numpy()))
    return events.iloc[order].reset_index(drop=True)


def events_of(events: pd.DataFrame, partners: pd.DataFrame, partner_id: str) -> pd.DataFrame:
    """One partner's events, partner_id Categorical over the one-partner frame `partners`."""
    own = events[events["partner_id"].astype(object) == partner_id].copy()
    own["partner_id"] = pd.Categorical(own["partner_id"].astype(object), categories=pd.Index(partners["partner_id"], dtype=object))
    return own.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------
# The tiny hand-built program

T1, T2 = utc("2025-03-01"), utc("2025-03-15")
TINY_CUTOFFS = [T1, T2]

TINY_PARTNERS = make_partners(
    [
        ("p1", "2024-09-01 12:00Z", "influencer", "DE", 0.2),  # busy; payouts; events at t and at t - 30 d
        ("p2", "2025-02-20 06:00Z", "website", None, NAN),  # young, a single event, no commission rate
        ("p3", "2024-06-01 00:00Z", "coupon", "FR", 0.1),  # no events at all
        ("p4", "2025-03-05 00:00Z", "website", "DE", 0.15),  # signs up between the cutoffs
        ("p5", "2025-04-01 00:00Z", "influencer", "US", 0.1),  # signs up after both cutoffs: no row
        ("p6", "2024-10-01 00:00Z", "cashback", "PL", 0.1),  # a workhorse whose activity is fading
    ]
)

TINY_EVENTS = make_events(
    [
        ("p1", "2024-09-01 15:00Z", "link_created", 0.0),
        ("p1", "2024-09-02 10:00Z", "login", 0.0),
        ("p1", "2024-09-04 13:00Z", "click", 0.0),  # one hour after the 72 h of onboarding
        ("p1", "2025-01-30 00:00Z", "lead", 0.0),  # exactly T1 - 30 days: inside the 30-day window
        ("p1", "2025-02-10 09:15Z", "sale", 100.0),
        ("p1", "2025-02-15 08:00Z", "payout_requested", 20.0),
        ("p1", "2025-02-20 14:00Z", "click", 0.0),
        ("p1", "2025-02-25 11:00Z", "payout_paid", 15.0),
        ("p1", "2025-02-28 10:00Z", "login", 0.0),  # two events on the same day
        ("p1", "2025-02-28 18:00Z", "click", 0.0),
        ("p1", "2025-03-01 00:00Z", "click", 0.0),  # exactly T1: not seen at T1
        ("p1", "2025-03-05 16:30Z", "payout_requested", 10.0),
        ("p1", "2025-03-10 06:00Z", "sale", 50.0),
        ("p2", "2025-02-21 07:30Z", "login", 0.0),
        ("p4", "2025-03-06 09:00Z", "login", 0.0),
        ("p4", "2025-03-06 12:00Z", "click", 0.0),
        ("p5", "2025-04-02 10:00Z", "login", 0.0),
        *[("p6", f"2025-01-{day:02d} 09:00Z", "login", 0.0) for day in (3, 6, 9, 12, 15, 18, 21, 24)],
        ("p6", "2025-01-05 10:00Z", "sale", 300.0),
        ("p6", "2025-01-20 17:00Z", "webinar_attended", 0.0),
        ("p6", "2025-02-03 12:00Z", "sale", 200.0),
        ("p6", "2025-02-10 09:00Z", "login", 0.0),
        ("p6", "2025-02-18 09:00Z", "login", 0.0),
        ("p6", "2025-02-26 08:00Z", "message_opened", 0.0),
        ("p6", "2025-02-28 23:59Z", "sale", 400.0),
    ],
    TINY_PARTNERS,
)


# ---------------------------------------------------------------------------------------------------
# A seeded random program

RANDOM_START = utc("2025-01-01")
RANDOM_CUTOFFS = [RANDOM_START + d * DAY for d in (120, 160, 200, 240)]
RANDOM_DATA_END = RANDOM_START + 250 * DAY


def random_program(seed: int = 2025, n_partners: int = 30, n_events: int = 2_000, days: int = 250) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partners of very different activity; some events snapped to midnight (exactly on day boundaries)."""
    rng = np.random.default_rng(seed)
    second = pd.Timedelta(seconds=1)
    signup_days = np.concatenate([rng.uniform(0, 30, 10), rng.uniform(0, 200, n_partners - 12), [245.0, 262.0]])
    signup_at = [RANDOM_START + int(d * 86_400) * second for d in signup_days]
    types = CONFIG.data.event_types
    rates = [rng.choice([0.1, 0.15, 0.2, NAN]) for _ in range(n_partners)]
    partners = make_partners(
        [
            (f"r{i:02d}", signup_at[i], str(rng.choice(["website", "influencer", "coupon"])), str(rng.choice(["DE", "FR", "US"])), rates[i])
            for i in range(n_partners)
        ]
    )
    weight = np.where(signup_days < days, rng.gamma(0.7, size=n_partners), 0.0)  # the last one never acts
    stop_day = np.where(rng.random(n_partners) < 0.4, rng.uniform(np.minimum(signup_days, days), days), days)
    type_p = np.array([10, 3, 12, 4, 3, 1, 1, 1, 1, 3], dtype=float)
    type_p = type_p[: len(types)] / type_p[: len(types)].sum()
    rows = []
    owners = rng.choice(n_partners, size=n_events, p=weight / weight.sum())
    for i in owners:
        start, stop = signup_days[i], stop_day[i]
        if stop <= start:
            stop = days
        seconds = int(rng.uniform(start, stop) * 86_400)
        ts = RANDOM_START + seconds * second
        if rng.random() < 0.2:
            ts = ts.ceil("D") if ts.ceil("D") < RANDOM_DATA_END else ts
        if ts < signup_at[i]:
            ts = signup_at[i]
        event_type = str(rng.choice(types, p=type_p))
        if event_type == "sale":
            amount = rng.integers(1, 4_000) / 4
        elif event_type in ("payout_requested", "payout_paid"):
            amount = rng.integers(1, 400) / 4
        else:
            amount = 0.0
        rows.append((f"r{i:02d}", ts, event_type, amount))
    return partners, make_events(rows, partners)


RANDOM_PARTNERS, RANDOM_EVENTS = random_program()


def random_surveys(seed: int = 9, n: int = 120) -> pd.DataFrame:
    """Survey answers of the random program's partners after their sign-up, some at one moment (ties), some
    exactly at a cutoff, halves too (a tool allowing them)."""
    rng = np.random.default_rng(seed)
    who = rng.integers(0, len(RANDOM_PARTNERS), n)
    signup = pd.DatetimeIndex(RANDOM_PARTNERS["signup_at"])[who]
    ts = signup + pd.to_timedelta(rng.uniform(0, 200, n), unit="D")
    ts = ts.where(rng.random(n) > 0.1, pd.Timestamp(RANDOM_CUTOFFS[-1]))  # at a cutoff: not before it, unseen there
    frame = pd.DataFrame({"partner_id": RANDOM_PARTNERS["partner_id"].to_numpy()[who], "ts": ts, "score": rng.integers(0, 21, n) / 2})
    frame = frame[frame["ts"] >= signup]
    twin = frame.iloc[:5].assign(score=lambda f: 10 - f["score"])  # the same partner and moment, another answer
    return pd.concat([frame, twin], ignore_index=True)


RANDOM_SURVEYS = random_surveys()


# ---------------------------------------------------------------------------------------------------
# Comparison


def _float_values(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="raise").astype("float64").to_numpy()


def _text_values(series: pd.Series) -> list[object]:
    return [None if (value is None or (not isinstance(value, str) and pd.isna(value))) else value for value in series.astype(object)]


def _where(frame: pd.DataFrame, rows: np.ndarray) -> list[tuple[str, str]]:
    return [(str(frame["partner_id"].iloc[i]), str(frame["as_of"].iloc[i])) for i in rows[:5]]


def assert_floats_agree(got: pd.Series, expected: pd.Series, name: str, frame: pd.DataFrame) -> None:
    g, e = _float_values(got), _float_values(expected)
    nan_differs = np.isnan(g) != np.isnan(e)
    assert not nan_differs.any(), (
        f"{name}: missing at different rows {_where(frame, np.flatnonzero(nan_differs))}: got {g[nan_differs][:5]}, expected {e[nan_differs][:5]}"
    )
    both = ~np.isnan(e)
    close = np.isclose(g, e, rtol=1e-12, atol=1e-9) | ~both
    assert close.all(), f"{name}: differs at {_where(frame, np.flatnonzero(~close))}: got {g[~close][:5]}, expected {e[~close][:5]}"
    np.testing.assert_allclose(g[both], e[both], rtol=1e-12, atol=1e-9, err_msg=name)


def assert_exact(got: Sequence[object], expected: Sequence[object], name: str, frame: pd.DataFrame) -> None:
    got, expected = list(got), list(expected)
    differs = np.array([a != b for a, b in zip(got, expected)], dtype=bool)
    assert not differs.any(), (
        f"{name}: differs at {_where(frame, np.flatnonzero(differs))}: "
        f"got {[got[i] for i in np.flatnonzero(differs)[:5]]}, expected {[expected[i] for i in np.flatnonzero(differs)[:5]]}"
    )


def assert_keys_agree(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(got) == len(expected), f"{len(got)} rows, expected {len(expected)}"
    assert [str(p) for p in got["partner_id"]] == list(expected["partner_id"])
    got_as_of = pd.to_datetime(got["as_of"], utc=True)
    assert list(got_as_of) == list(pd.to_datetime(expected["as_of"], utc=True))


def assert_features_agree(got: pd.DataFrame, expected: pd.DataFrame, config: Config = CONFIG) -> None:
    """Every column equal: floats to 1e-12 with the same missing rows; ints, bools and text exactly."""
    assert list(got.columns) == META_COLUMNS + feature_names(config) + TAIL_COLUMNS
    assert list(expected.columns) == list(got.columns)
    got, expected = got.reset_index(drop=True), expected.reset_index(drop=True)
    assert_keys_agree(got, expected)
    for spec in feature_schema(config):
        g, e = got[spec.name], expected[spec.name]
        if spec.kind == "float":
            assert_floats_agree(g, e, spec.name, got)
        elif spec.kind == "int":
            assert pd.api.types.is_integer_dtype(g.dtype) or len(g) == 0, f"{spec.name}: dtype {g.dtype}, expected an integer dtype"
            assert_exact([int(v) for v in g], [int(v) for v in e], spec.name, got)
        else:
            assert_exact(_text_values(g), _text_values(e), spec.name, got)
    assert_exact([str(s) for s in got["segment"]], list(expected["segment"]), "segment", got)
    assert pd.api.types.is_bool_dtype(got["downgrade_warning"].dtype) or len(got) == 0, f"downgrade_warning dtype {got['downgrade_warning'].dtype}"
    assert_exact([bool(v) for v in got["downgrade_warning"]], [bool(v) for v in expected["downgrade_warning"]], "downgrade_warning", got)


def assert_labels_agree(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == LABEL_COLUMNS
    got, expected = got.reset_index(drop=True), expected.reset_index(drop=True)
    assert_keys_agree(got, expected)
    assert pd.api.types.is_bool_dtype(got["active"].dtype), f"active dtype {got['active'].dtype}"
    assert_exact(list(got["active"]), list(expected["active"]), "active", got)
    for name in ("deactivated", "upgraded", "revenue_next_horizon"):
        assert_floats_agree(got[name], expected[name], name, got)
    assert_exact([str(s) for s in got["segment"]], list(expected["segment"]), "segment", got)
    assert_exact(_text_values(got["segment_at_horizon"]), _text_values(expected["segment_at_horizon"]), "segment_at_horizon", got)


# ---------------------------------------------------------------------------------------------------
# Fixtures: the reference is slow, so compute it once per module


@pytest.fixture(scope="module")
def tiny_reference() -> pd.DataFrame:
    return reference_features(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG)


@pytest.fixture(scope="module")
def random_reference() -> pd.DataFrame:
    return reference_features(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, RANDOM_SURVEYS)


@pytest.fixture(scope="module")
def random_batch() -> pd.DataFrame:
    return build_features(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, surveys=RANDOM_SURVEYS)


@pytest.fixture(scope="module", params=["reference", "pipeline"])
def tiny_features(request: pytest.FixtureRequest, tiny_reference: pd.DataFrame) -> pd.DataFrame:
    """The tiny program's features from each implementation, so hand-worked numbers check both."""
    if request.param == "reference":
        return tiny_reference
    return build_features(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG)


def row(frame: pd.DataFrame, partner_id: str, as_of: pd.Timestamp) -> pd.Series:
    found = frame[(frame["partner_id"].astype(str) == partner_id) & (pd.to_datetime(frame["as_of"], utc=True) == as_of)]
    assert len(found) == 1, f"{len(found)} rows for {partner_id} at {as_of}"
    return found.iloc[0]


# ---------------------------------------------------------------------------------------------------
# 1. The pipeline agrees with the reference


def test_tiny_program_agrees_with_reference(tiny_reference: pd.DataFrame) -> None:
    got = build_features(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG)
    assert_features_agree(got, tiny_reference)


def test_tiny_program_agrees_with_reference_at_another_time_of_day() -> None:
    """Day periods are counted back from the cutoff, whatever its time of day, not from midnight."""
    cutoffs = [c + pd.Timedelta(hours=6, minutes=30) for c in TINY_CUTOFFS]
    got = build_features(TINY_PARTNERS, TINY_EVENTS, cutoffs, CONFIG)
    assert_features_agree(got, reference_features(TINY_PARTNERS, TINY_EVENTS, cutoffs, CONFIG))


def test_tiny_program_rows_are_partners_signed_up_before_each_cutoff(tiny_reference: pd.DataFrame) -> None:
    got = build_features(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG)
    keys = list(zip(got["partner_id"].astype(str), pd.to_datetime(got["as_of"], utc=True)))
    expected = [(p, T1) for p in ("p1", "p2", "p3", "p6")] + [(p, T2) for p in ("p1", "p2", "p3", "p4", "p6")]
    assert keys == expected
    assert list(zip(tiny_reference["partner_id"], tiny_reference["as_of"])) == expected


def test_random_program_agrees_with_reference(random_batch: pd.DataFrame, random_reference: pd.DataFrame) -> None:
    assert_features_agree(random_batch, random_reference)


def test_random_program_with_amounts_in_cents_agrees_with_reference() -> None:
    """Amounts that binary floats cannot hold exactly: sums in another order must not move a segment."""
    partners, events = random_program(seed=3)
    rng = np.random.default_rng(3)
    events = events.copy()
    money = (events["amount"] > 0).to_numpy()
    events.loc[money, "amount"] = rng.integers(1, 100_000, int(money.sum())) / 100
    got = build_features(partners, events, RANDOM_CUTOFFS, CONFIG)
    assert_features_agree(got, reference_features(partners, events, RANDOM_CUTOFFS, CONFIG))


def test_random_program_exercises_every_segment_and_a_warning(random_reference: pd.DataFrame) -> None:
    """Guards the random comparison's reach: all four segments, downgrade warnings both ways, every cutoff."""
    assert set(random_reference["segment"]) == set(SEGMENTS)
    assert set(random_reference["downgrade_warning"]) == {True, False}
    assert set(random_reference["as_of"]) == set(RANDOM_CUTOFFS)
    assert random_reference["days_since_last_activity"].isna().any() and random_reference["active_day_gap_std"].notna().any()


def test_features_with_another_config_agree_with_reference() -> None:
    """Windows, trend, slope, funnel, onboarding and segment settings come from the config, not constants."""
    config = Config.model_validate(
        {
            "features": {
                "windows_days": [3, 45],
                "onboarding_hours": 24,
                "trend_window_days": 14,
                "slope_weeks": 4,
                "funnel_window_days": 45,
                "revenue_share_windows_days": [14],
            },
            "labels": {"qualifying_event_types": ["login", "click", "sale"]},
            "segments": {"revenue_window_days": 45, "downgrade_warning_days": 14, "star_min_tenure_days": 60, "star_min_active_days_30": 5},
        }
    )
    got = build_features(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS[-2:], config)
    assert_features_agree(got, reference_features(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS[-2:], config), config)


def test_each_cutoff_alone_agrees_with_reference(random_reference: pd.DataFrame) -> None:
    """One cutoff's day table starts at its windows' reach and folds the partners' earlier history into one row:
    history sums, last events and the gaps between active days across that fold must still be the reference's."""
    last = RANDOM_CUTOFFS[-1]
    folded = RANDOM_EVENTS["ts"] < last - lookback_days(CONFIG) * DAY
    assert folded.sum() > 100, "the last cutoff alone must fold some history, or this test checks nothing"
    context = program_context(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG)
    for cutoff in RANDOM_CUTOFFS:
        got = build_features(RANDOM_PARTNERS, RANDOM_EVENTS, [cutoff], CONFIG, program=context, surveys=RANDOM_SURVEYS)
        assert_features_agree(got, random_reference[pd.to_datetime(random_reference["as_of"], utc=True) == cutoff])


@pytest.mark.parametrize(
    "settings_",
    [
        {"features": {"windows_days": [7, 90, 200]}},
        {"features": {"trend_window_days": 100}},
        {"features": {"slope_weeks": 30}},
        {"features": {"funnel_window_days": 210}},
        {"features": {"revenue_share_windows_days": [205]}},
        {"features": {"windows_days": [7, 30, 90, 215]}, "segments": {"revenue_window_days": 215, "downgrade_warning_days": 110}},
    ],
    ids=["window", "trend", "slope", "funnel", "share", "segment"],
)
def test_one_cutoff_reads_as_far_back_as_its_longest_window(settings_: dict) -> None:
    """Each look-back setting, made the longest, is in `lookback_days`: the day table would refuse a window
    reaching before its first day (see the next test), and the features agree with the reference."""
    config = Config.model_validate(settings_)
    cutoff = RANDOM_CUTOFFS[-1]
    got = build_features(RANDOM_PARTNERS, RANDOM_EVENTS, [cutoff], config)
    assert_features_agree(got, reference_features(RANDOM_PARTNERS, RANDOM_EVENTS, [cutoff], config), config)


def test_a_window_reaching_before_the_day_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A look-back the table does not hold is an error, never a silently shorter window."""
    monkeypatch.setattr(pipeline, "lookback_days", lambda config: 10)
    with pytest.raises(RuntimeError, match="reads outside the day table"):
        build_features(RANDOM_PARTNERS, RANDOM_EVENTS, [RANDOM_CUTOFFS[-1]], CONFIG)


# ---------------------------------------------------------------------------------------------------
# 2. Hand-worked values (checked against the reference and the pipeline alike)


def test_hand_worked_busy_partner_at_first_cutoff(tiny_features: pd.DataFrame) -> None:
    p1 = row(tiny_features, "p1", T1)
    assert p1["tenure_days"] == pytest.approx(180.5, abs=1e-12)  # 2024-09-01 12:00 -> 2025-03-01
    assert p1["onboarding_events_72h"] == 2  # link + login; the click 73 h after sign-up is out
    assert p1["days_to_first_link"] == pytest.approx(3 / 24, abs=1e-12)
    assert p1["days_to_first_sale"] == pytest.approx(162 - 2.75 / 24, abs=1e-12)
    assert p1["days_to_first_lead"] == pytest.approx(150.5, abs=1e-12)  # the lead at exactly T1 - 30 d
    assert p1["days_since_last_activity"] == pytest.approx(0.25, abs=1e-12)  # click 2025-02-28 18:00
    assert p1["days_since_last_login"] == pytest.approx(14 / 24, abs=1e-12)
    assert p1["days_since_last_payout"] == pytest.approx(4 - 11 / 24, abs=1e-12)
    assert math.isnan(p1["days_since_last_training"])
    assert p1["click_count_7d"] == 1  # the click exactly at T1 is not seen
    assert p1["click_count_30d"] == 2
    assert p1["lead_count_30d"] == 1  # exactly T1 - 30 days is inside [t - 30 d, t)
    assert p1["lead_count_7d"] == 0
    assert p1["click_count_180d"] == 3 and p1["click_count_90d"] == 2  # the 2024-09-04 click is 177.5 days back
    assert p1["revenue_30d"] == 100.0 and p1["payout_paid_amount_30d"] == 15.0
    # Active day periods before T1: 0 (Feb 28, twice), 8, 18, 29 (the lead at exactly T1 - 30 d), 177, 179, 180.
    assert p1["active_days_30"] == 4 and p1["active_days_90"] == 4
    assert p1["active_day_gap_mean"] == pytest.approx(30.0, abs=1e-12)  # gaps 8, 10, 11, 148, 2, 1
    assert p1["active_day_gap_std"] == pytest.approx(math.sqrt(2799.0), rel=1e-12)
    assert p1["recency_to_usual_gap"] == pytest.approx(0.25 / 30, rel=1e-12)
    assert p1["weekly_activity_slope_12w"] == pytest.approx(15 / 143, rel=1e-12)  # weeks 0, 1, 2, 4 active
    assert p1["activity_trend_30d"] == 1.0 and p1["click_trend_30d"] == 1.0
    assert p1["lead_per_click_90d"] == pytest.approx(0.5, abs=1e-12) and p1["sale_per_lead_90d"] == pytest.approx(1.0, abs=1e-12)
    assert p1["pending_payout_amount"] == pytest.approx(5.0) and p1["pending_payout_requests"] == 0
    assert p1["unpaid_commission"] == pytest.approx(5.0, abs=1e-9)  # 0.2 x 100 - 15
    assert p1["revenue_share_30d"] == pytest.approx(100 / 700, rel=1e-12)  # p6 sold 600 in the window
    assert p1["revenue_share_90d"] == pytest.approx(100 / 1000, rel=1e-12)
    assert (p1["partner_type"], p1["country"], p1["commission_rate"]) == ("influencer", "DE", 0.2)
    assert p1["segment"] == "workhorse" and not p1["downgrade_warning"]


def test_hand_worked_busy_partner_at_second_cutoff(tiny_features: pd.DataFrame) -> None:
    p1 = row(tiny_features, "p1", T2)
    assert p1["days_since_last_activity"] == pytest.approx(4.75, abs=1e-12)  # sale 2025-03-10 06:00
    assert p1["click_count_30d"] == 3  # now the click at T1 counts
    # Periods before T2: 22 (Feb 20), 14 (Feb 28), 13 (Mar 1 00:00 is exactly 14 d back: period 13), 4.
    assert p1["active_days_30"] == 4
    assert p1["pending_payout_amount"] == pytest.approx(15.0) and p1["pending_payout_requests"] == 1
    assert p1["unpaid_commission"] == pytest.approx(15.0, abs=1e-9)  # 0.2 x 150 - 15


def test_hand_worked_quiet_partners(tiny_features: pd.DataFrame) -> None:
    p2 = row(tiny_features, "p2", T1)
    assert p2["tenure_days"] == pytest.approx(8.75, abs=1e-12)
    assert p2["days_since_last_activity"] == pytest.approx(7 + 16.5 / 24, abs=1e-12)
    assert p2["active_days_30"] == 1 and p2["onboarding_events_72h"] == 1
    assert math.isnan(p2["active_day_gap_mean"]) and math.isnan(p2["active_day_gap_std"]) and math.isnan(p2["recency_to_usual_gap"])
    assert math.isnan(p2["unpaid_commission"]) and math.isnan(p2["commission_rate"])
    assert math.isnan(p2["lead_per_click_90d"]) and p2["segment"] == "newbie"

    p3 = row(tiny_features, "p3", T1)
    counts = [name for name in feature_names(CONFIG) if "_count_" in name or name.startswith("active_days")]
    assert all(p3[name] == 0 for name in counts)
    assert all(math.isnan(p3[name]) for name in feature_names(CONFIG) if name.startswith(("days_since", "days_to_first")))
    assert p3["activity_trend_30d"] == 0.0 and p3["weekly_activity_slope_12w"] == 0.0 and p3["revenue_share_30d"] == 0.0
    assert p3["segment"] == "sleeper"  # 273 days in the program, never active

    p4 = row(tiny_features, "p4", T2)
    assert p4["tenure_days"] == pytest.approx(10.0) and p4["onboarding_events_72h"] == 2 and p4["active_days_30"] == 1


def test_hand_worked_fading_workhorse(tiny_features: pd.DataFrame) -> None:
    p6 = row(tiny_features, "p6", T1)
    assert p6["activity_trend_30d"] == pytest.approx((4 - 10) / 14, rel=1e-12)
    assert p6["revenue_trend_30d"] == pytest.approx((600 - 300) / 900, rel=1e-12)
    assert p6["message_opened_count_30d"] == 1  # counted, but not activity
    assert p6["days_since_last_activity"] == pytest.approx(1 / 1440, rel=1e-9)
    assert p6["active_days_30"] == 4 and p6["segment"] == "workhorse"
    # 4 active days in the last 30 against 10 in the 30 before: projected 0 -> silent 30+ days -> sleeper.
    assert p6["downgrade_warning"]


# ---------------------------------------------------------------------------------------------------
# 3. Nothing at or after the cutoff changes a feature at the cutoff

late_event = st.tuples(
    st.sampled_from(list(TINY_PARTNERS["partner_id"])),
    st.integers(min_value=0, max_value=120 * 86_400),  # seconds at or after the cutoff
    st.sampled_from(CONFIG.data.event_types),
    st.integers(min_value=0, max_value=1_000_000),  # cents
)


@settings(max_examples=40, deadline=None)
@given(cutoff=st.sampled_from(TINY_CUTOFFS), late=st.lists(late_event, min_size=1, max_size=12))
def test_events_at_or_after_the_cutoff_change_nothing(cutoff: pd.Timestamp, late: list[tuple[str, int, str, int]]) -> None:
    before = build_features(TINY_PARTNERS, TINY_EVENTS, [cutoff], CONFIG)
    extra = make_events([(pid, cutoff + pd.Timedelta(seconds=s), event_type, cents / 100) for pid, s, event_type, cents in late], TINY_PARTNERS)
    after_events = sort_events(pd.concat([TINY_EVENTS, extra], ignore_index=True))
    after = build_features(TINY_PARTNERS, after_events, [cutoff], CONFIG)
    assert_features_agree(after, before)


# ---------------------------------------------------------------------------------------------------
# 4. The one-partner path (the service's) agrees with the batch path


@pytest.mark.parametrize("program", ["tiny", "random"])
def test_one_partner_path_agrees_with_batch(program: str) -> None:
    partners, events, cutoffs = (TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS) if program == "tiny" else (RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS)
    batch = build_features(partners, events, cutoffs, CONFIG)
    context = program_context(partners, events, cutoffs, CONFIG)
    for i in range(len(partners)):
        one = partners.iloc[[i]].reset_index(drop=True)
        pid = str(one["partner_id"].iloc[0])
        single = build_features(one, events_of(events, one, pid), cutoffs, CONFIG, program=context)
        expected = batch[batch["partner_id"].astype(str) == pid].reset_index(drop=True)
        assert_features_agree(single, expected)


def test_one_context_shared_by_threads_finds_its_cutoffs() -> None:
    """A threaded Dask worker's tasks share one context; their first lookups at once must all find the
    cutoff (a pandas index's lazily built hash engine raised "not unique" in about 1 of 140 such races)."""
    failures: list[BaseException] = []
    computed = program_context(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG)
    for _ in range(2000):
        context = dataclasses.replace(computed, cutoffs=pd.DatetimeIndex(list(computed.cutoffs)))  # an index no lookup has touched
        start = threading.Barrier(4)

        def look() -> None:
            start.wait()
            try:
                assert context.index_of(TINY_CUTOFFS[-1]) == len(TINY_CUTOFFS) - 1
            except BaseException as error:  # noqa: BLE001 - every failure of a thread is collected
                failures.append(error)

        threads = [threading.Thread(target=look) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, f"{len(failures)} lookups failed, e.g. {failures[0]!r}"
    assert context.index_of(TINY_CUTOFFS[0].tz_convert(None)) == 0  # a naive cutoff is UTC
    with pytest.raises(InputError, match="no figures for cutoff"):
        context.index_of(TINY_CUTOFFS[0] + pd.Timedelta(days=1))


# ---------------------------------------------------------------------------------------------------
# 5. Labels and segments

L1, L2 = utc("2025-06-01"), utc("2025-06-20")
LABEL_DATA_END = utc("2025-07-15")  # L1 + 30 d is observed, L2 + 30 d is not

LABEL_PARTNERS = make_partners(
    [
        ("silent_after", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("one_more", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("at_horizon_end", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("at_cutoff", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("inactive", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("active_edge", "2025-01-01 00:00Z", "website", "DE", 0.1),
        ("upgrader", "2025-03-10 00:00Z", "website", "DE", 0.1),
    ]
)
LABEL_EVENTS = make_events(
    [
        ("silent_after", "2025-05-20 10:00Z", "login", 0.0),
        ("silent_after", "2025-05-25 10:00Z", "click", 0.0),
        ("one_more", "2025-05-28 10:00Z", "login", 0.0),
        ("one_more", "2025-06-15 10:00Z", "click", 0.0),
        ("at_horizon_end", "2025-05-28 10:00Z", "login", 0.0),
        ("at_horizon_end", "2025-07-01 00:00Z", "login", 0.0),  # exactly L1 + 30 d: outside [t, t + H)
        ("at_cutoff", "2025-05-28 10:00Z", "login", 0.0),
        ("at_cutoff", "2025-06-01 00:00Z", "login", 0.0),  # exactly L1: inside [t, t + H)
        ("inactive", "2025-04-01 10:00Z", "login", 0.0),
        ("inactive", "2025-06-10 10:00Z", "payout_paid", 5.0),  # not a qualifying event
        ("active_edge", "2025-05-02 00:00Z", "login", 0.0),  # exactly L1 - 30 d: active at L1
        ("upgrader", "2025-05-15 10:00Z", "sale", 100.0),
        *[("upgrader", f"2025-06-{day} 10:00Z", "login", 0.0) for day in (10, 12, 14, 16, 18)],
    ],
    LABEL_PARTNERS,
)

#                  active  deactivated upgraded segment     segment_at_horizon   (at L1)
LABELS_AT_L1 = {
    "silent_after": (True, 1.0, 0.0, "newbie", "sleeper"),
    "one_more": (True, 0.0, 0.0, "newbie", "newbie"),
    "at_horizon_end": (True, 1.0, 0.0, "newbie", "sleeper"),  # silent 33.6 days at L1 + H
    "at_cutoff": (True, 0.0, 0.0, "newbie", "sleeper"),  # silent exactly 30 days at L1 + H
    "inactive": (False, NAN, 0.0, "sleeper", "sleeper"),
    "active_edge": (True, 1.0, 0.0, "sleeper", "sleeper"),  # active, yet silent exactly 30 days
    "upgrader": (True, 0.0, 1.0, "newbie", "workhorse"),
}


@pytest.fixture(scope="module", params=["reference", "pipeline"])
def hand_labels(request: pytest.FixtureRequest) -> pd.DataFrame:
    build = reference_labels if request.param == "reference" else build_labels
    return build(LABEL_PARTNERS, LABEL_EVENTS, [L1, L2], CONFIG, data_end=LABEL_DATA_END)


def test_hand_worked_labels(hand_labels: pd.DataFrame) -> None:
    assert list(hand_labels.columns) == LABEL_COLUMNS
    for pid, (active, deactivated, upgraded, segment, later) in LABELS_AT_L1.items():
        got = row(hand_labels, pid, L1)
        assert bool(got["active"]) is active, pid
        assert (math.isnan(got["deactivated"]) and math.isnan(deactivated)) or got["deactivated"] == deactivated, pid
        assert got["upgraded"] == upgraded, pid
        assert (got["segment"], got["segment_at_horizon"]) == (segment, later), pid


def test_labels_are_missing_when_the_horizon_is_not_observed(hand_labels: pd.DataFrame) -> None:
    at_l2 = hand_labels[pd.to_datetime(hand_labels["as_of"], utc=True) == L2]
    assert len(at_l2) == len(LABEL_PARTNERS)
    assert at_l2["deactivated"].isna().all() and at_l2["upgraded"].isna().all() and at_l2["segment_at_horizon"].isna().all()
    assert bool(row(hand_labels, "silent_after", L2)["active"])  # active (2025-05-25), yet unlabelled


def test_labels_agree_with_reference_on_the_tiny_program() -> None:
    data_end = utc("2025-04-10")  # T1 + 30 d observed, T2 + 30 d not
    got = build_labels(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG, data_end=data_end)
    assert_labels_agree(got, reference_labels(TINY_PARTNERS, TINY_EVENTS, TINY_CUTOFFS, CONFIG, data_end=data_end))


def test_labels_agree_with_reference_on_the_random_program() -> None:
    expected = reference_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=RANDOM_DATA_END)
    assert set(expected["deactivated"].dropna()) == {0.0, 1.0} and set(expected["upgraded"].dropna()) == {0.0, 1.0}
    assert expected["deactivated"].isna().any() and expected["segment_at_horizon"].isna().any()
    got = build_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=RANDOM_DATA_END)
    assert_labels_agree(got, expected)


def test_label_segments_match_feature_segments(random_batch: pd.DataFrame) -> None:
    labels = build_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=RANDOM_DATA_END)
    assert_exact([str(s) for s in labels["segment"]], [str(s) for s in random_batch["segment"]], "segment", labels)


# ---------------------------------------------------------------------------------------------------
# 6. Edge cases


def test_no_events_at_all() -> None:
    empty = make_events([], TINY_PARTNERS)
    got = build_features(TINY_PARTNERS, empty, TINY_CUTOFFS, CONFIG)
    assert_features_agree(got, reference_features(TINY_PARTNERS, empty, TINY_CUTOFFS, CONFIG))
    assert len(got) == 9
    counts = [spec.name for spec in feature_schema(CONFIG) if spec.kind == "int"]
    assert (got[counts] == 0).all().all()
    recency = [name for name in feature_names(CONFIG) if name.startswith("days_since_last_")]
    assert got[recency].isna().all().all()


def test_cutoffs_before_any_signup_give_an_empty_frame_with_the_columns() -> None:
    got = build_features(TINY_PARTNERS, TINY_EVENTS, [utc("2024-01-01"), utc("2024-02-01")], CONFIG)
    assert len(got) == 0
    assert list(got.columns) == META_COLUMNS + feature_names(CONFIG) + TAIL_COLUMNS


def test_cutoffs_at_different_times_of_day_are_refused() -> None:
    with pytest.raises(InputError):
        build_features(TINY_PARTNERS, TINY_EVENTS, [T1, T2 + pd.Timedelta(hours=12)], CONFIG)


def test_labels_reuse_given_features_and_refuse_foreign_ones() -> None:
    features = build_features(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG)
    data_end = RANDOM_EVENTS["ts"].max()
    alone = build_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=data_end)
    reused = build_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=data_end, features=features)
    pd.testing.assert_frame_equal(alone, reused)
    with pytest.raises(InputError, match="do not belong"):
        build_labels(RANDOM_PARTNERS, RANDOM_EVENTS, RANDOM_CUTOFFS, CONFIG, data_end=data_end, features=features.iloc[1:])


def test_fully_paid_payouts_leave_exactly_nothing_pending() -> None:
    """Money sums restart per partner and skip zeros, so equal requested and paid amounts cancel exactly."""
    partners = pd.DataFrame({"partner_id": ["b", "a"], "signup_at": pd.to_datetime(["2025-01-01", "2025-01-01"], utc=True)})
    amounts = [0.1, 0.2, 0.3, 1234.57, 0.07, 99.99]
    rows = []
    for k, amount in enumerate(amounts):
        day = pd.Timestamp("2025-02-01", tz="UTC") + pd.Timedelta(days=3 * k)
        rows += [
            ("a", day, "sale", 1000.0 + k),
            ("a", day + pd.Timedelta(hours=1), "payout_requested", amount),
            ("a", day + pd.Timedelta(days=1, hours=2), "login", 0.0),
            ("a", day + pd.Timedelta(days=2), "payout_paid", amount),
        ]
    # A big partner earlier in the program with an unpaid request: requested and paid totals differ there.
    rows += [("b", pd.Timestamp("2025-02-02", tz="UTC"), "sale", 5e8), ("b", pd.Timestamp("2025-02-03", tz="UTC"), "payout_requested", 5e7 + 0.3)]
    events = pd.DataFrame(rows, columns=["partner_id", "ts", "event_type", "amount"])
    events["partner_id"] = pd.Categorical(events["partner_id"], categories=partners["partner_id"])
    events["event_type"] = pd.Categorical(events["event_type"], categories=CONFIG.data.event_types)
    events = events.sort_values(["partner_id", "ts"]).reset_index(drop=True)
    features = build_features(partners, events, [pd.Timestamp("2025-04-01", tz="UTC")], CONFIG)
    a = features[features["partner_id"] == "a"].iloc[0]
    assert a["pending_payout_requests"] == 0
    assert a["pending_payout_amount"] == 0.0
