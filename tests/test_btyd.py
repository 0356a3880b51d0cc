"""BG/NBD baseline: the purchase summary against a brute-force reference, the model against its own process."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from partner_churn.errors import InputError
from training.btyd import BTYDBaseline, purchase_summary

DAY = pd.Timedelta(days=1)
TRUE = {"r": 0.8, "alpha": 12.0, "a": 0.9, "b": 3.0}
"""Simulation parameters (days): mean purchase rate r / alpha = one purchase day in 15; mean dropout
chance after a purchase a / (a + b) = 0.23."""
HORIZON = 30.0


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.to_datetime(list(stamps), utc=True, format="ISO8601")


def reference_summary(events: pd.DataFrame, rows: pd.DataFrame, purchase_types: tuple[str, ...] = ("sale",)) -> pd.DataFrame:
    """The obvious, slow version: one row at a time, one event at a time."""
    records = []
    for row in rows.itertuples(index=False):
        days = sorted(
            {
                event.ts.floor("D")
                for event in events.itertuples(index=False)
                if event.partner_id == row.partner_id and event.event_type in purchase_types and event.ts < row.as_of
            }
        )
        if days:
            records.append((row.partner_id, row.as_of, len(days) - 1, float((days[-1] - days[0]).days), (row.as_of - days[0]) / DAY, True))
        else:
            start = row.signup_at.floor("D") if "signup_at" in rows else row.as_of
            records.append((row.partner_id, row.as_of, 0, 0.0, max((row.as_of - start) / DAY, 0.0), False))
    frame = pd.DataFrame.from_records(records, columns=["partner_id", "as_of", "frequency", "recency", "T", "purchased"])
    return frame.astype({"frequency": "int64", "as_of": rows["as_of"].dtype, "partner_id": rows["partner_id"].dtype})


def events_frame(partner_id: list[str], ts: pd.DatetimeIndex, event_type: list[str], categories: list[str]) -> pd.DataFrame:
    """Shaped like `Program.events`: categorical partner and event type, UTC timestamps, float amount."""
    return pd.DataFrame(
        {
            "partner_id": pd.Categorical(partner_id, categories=pd.Index(categories, dtype="string[pyarrow]")),
            "ts": ts,
            "event_type": pd.Categorical(event_type, categories=["login", "click", "sale", "payout_paid"]),
            "amount": 1.0,
        }
    )


# ---------------------------------------------------------------------------------------------
# purchase_summary


def test_purchase_summary_matches_hand_computed_and_brute_force_values() -> None:
    events = events_frame(
        ["a", "a", "a", "a", "b", "b"],
        utc("2026-01-01 09:00", "2026-01-01 17:00", "2026-01-04 12:00", "2026-01-08 00:00", "2026-01-02 08:00", "2026-01-06 10:00"),
        ["sale", "sale", "sale", "sale", "login", "sale"],
        ["a", "b", "c"],
    )
    rows = pd.DataFrame(
        {
            "partner_id": ["a", "b", "a", "b"],
            "as_of": utc("2026-01-05", "2026-01-05", "2026-01-08", "2026-01-08"),
            "signup_at": utc("2025-12-20 15:00", "2025-12-31 23:00", "2025-12-20 15:00", "2025-12-31 23:00"),
        }
    )
    summary = purchase_summary(events, rows)
    # a: two sales on Jan 1 are one purchase day, the Jan 4 sale a repeat; the Jan 8 00:00 sale is at the
    # second cutoff, so excluded. b: its Jan 2 login is no purchase; no sale before Jan 5 (T from sign-up day).
    expected = pd.DataFrame(
        {
            "partner_id": ["a", "b", "a", "b"],
            "as_of": rows["as_of"],
            "frequency": np.array([1, 0, 1, 0], dtype="int64"),
            "recency": [3.0, 0.0, 3.0, 0.0],
            "T": [4.0, 5.0, 7.0, 2.0],
            "purchased": [True, False, True, True],
        }
    )
    pd.testing.assert_frame_equal(summary, expected)
    pd.testing.assert_frame_equal(summary, reference_summary(events, rows))


def test_purchase_summary_matches_brute_force_on_a_random_frame() -> None:
    rng = np.random.default_rng(3)
    partners = [f"p{i}" for i in range(8)]
    n = 300
    start = pd.Timestamp("2026-01-01", tz="UTC")
    hours = rng.integers(0, 24 * 40, n)
    ts = pd.DatetimeIndex(start + pd.to_timedelta(hours, unit="h"))
    ts = ts.append(utc("2026-01-11", "2026-01-21 12:00"))  # exactly at two cutoffs
    who = list(rng.choice(partners[:7], n)) + ["p0", "p1"]  # p7 never has an event
    kinds = list(rng.choice(["login", "sale", "click", "payout_paid"], n, p=[0.3, 0.4, 0.2, 0.1])) + ["sale", "sale"]
    events = events_frame(who, ts, kinds, partners).sample(frac=1.0, random_state=0).reset_index(drop=True)
    cutoffs = utc("2026-01-11", "2026-01-21 12:00", "2026-02-01", "2026-02-15")
    rows = pd.DataFrame(
        {
            "partner_id": [p for _ in cutoffs for p in partners] + ["not-a-partner"],
            "as_of": [c for c in cutoffs for _ in partners] + [cutoffs[-1]],
        }
    )
    rows["signup_at"] = pd.Timestamp("2025-12-01 18:30", tz="UTC")
    for types in (("sale",), ("sale", "click")):
        summary = purchase_summary(events, rows, purchase_types=types)
        pd.testing.assert_frame_equal(summary, reference_summary(events, rows, types))
    without_signup = rows.drop(columns="signup_at")
    pd.testing.assert_frame_equal(purchase_summary(events, without_signup), reference_summary(events, without_signup))


def test_purchase_summary_with_no_purchases_at_all() -> None:
    events = events_frame(["a"], utc("2026-01-01"), ["login"], ["a"])
    rows = pd.DataFrame({"partner_id": ["a"], "as_of": utc("2026-01-05"), "signup_at": utc("2025-12-31 10:00")})
    summary = purchase_summary(events, rows)
    assert summary[["frequency", "recency", "T", "purchased"]].iloc[0].tolist() == [0, 0.0, 5.0, False]


def test_purchase_summary_rejects_bad_input() -> None:
    events = events_frame(["a"], utc("2026-01-01"), ["sale"], ["a"])
    with pytest.raises(InputError, match="as_of"):
        purchase_summary(events, pd.DataFrame({"partner_id": ["a"]}))
    with pytest.raises(InputError, match="tz-aware"):
        purchase_summary(events, pd.DataFrame({"partner_id": ["a"], "as_of": pd.to_datetime(["2026-01-05"])}))


# ---------------------------------------------------------------------------------------------
# BTYDBaseline on data from the BG/NBD process itself


def simulate_bgnbd(n: int, seed: int, *, first_purchase_days: tuple[float, float] = (60.0, 365.0)) -> pd.DataFrame:
    """Customers of a BG/NBD process: (x, t_x, T) at the end of an observation window of T days since the
    first purchase, and whether they buy in the following HORIZON days. Dropout only after a repeat purchase."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    dropout = rng.beta(TRUE["a"], TRUE["b"], n)
    T = rng.uniform(*first_purchase_days, n)
    frequency, recency, bought = np.zeros(n, np.int64), np.zeros(n), np.zeros(n, bool)
    t, buying = np.zeros(n), np.ones(n, bool)
    while buying.any():
        who = np.flatnonzero(buying)
        t[who] += rng.exponential(1.0 / rate[who])
        inside = who[t[who] < T[who]]
        frequency[inside] += 1
        recency[inside] = t[inside]
        later = who[t[who] >= T[who]]
        bought[later[t[later] < T[later] + HORIZON]] = True
        buying[later] = False
        buying[inside[rng.random(inside.size) < dropout[inside]]] = False
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": T, "purchased": True, "bought_in_horizon": bought})


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A training population and an independent scoring population from the same process."""
    return simulate_bgnbd(20_000, seed=1), simulate_bgnbd(20_000, seed=2)


@pytest.fixture(scope="module")
def fitted(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> BTYDBaseline:
    return BTYDBaseline().fit(simulated[0])


def test_fit_recovers_the_simulated_parameters(fitted: BTYDBaseline) -> None:
    assert fitted.fitted_by_ == "maximum_likelihood" and fitted.fallback_reason_ is None
    for name, true in TRUE.items():
        assert fitted.params_[name] == pytest.approx(true, rel=0.15), (name, fitted.params_)
    assert fitted.params_["r"] / fitted.params_["alpha"] == pytest.approx(TRUE["r"] / TRUE["alpha"], rel=0.05)


def test_no_purchase_probability_is_calibrated_and_ranks(fitted: BTYDBaseline, simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    holdout = simulated[1]
    no_purchase = fitted.predict_no_purchase(holdout, HORIZON)
    observed = ~holdout["bought_in_horizon"].to_numpy()
    assert no_purchase.mean() == pytest.approx(observed.mean(), abs=0.02)
    deciles = pd.qcut(no_purchase, 10, labels=False, duplicates="drop")
    by_decile = pd.DataFrame({"predicted": no_purchase, "observed": observed}).groupby(deciles).mean()
    assert (by_decile["predicted"] - by_decile["observed"]).abs().max() < 0.05, by_decile
    assert roc_auc_score(observed, no_purchase) > 0.75
    expected = fitted.expected_purchases(holdout, HORIZON)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    assert roc_auc_score(holdout["bought_in_horizon"], expected) > 0.75


def test_end_to_end_from_events_fit_on_earlier_cutoff_score_later() -> None:
    """Purchase events from the process, summarised by purchase day; fitted at one cutoff, judged at a later one."""
    rng = np.random.default_rng(5)
    n = 6_000
    start, end = pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2026-03-01", tz="UTC")
    first = rng.uniform(0, 300, n)
    rate = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], n)
    dropout = rng.beta(TRUE["a"], TRUE["b"], n)
    horizon_end = (end - start) / DAY
    times, owners = [first], [np.arange(n)]
    t, buying = first.copy(), np.ones(n, bool)
    while buying.any():
        who = np.flatnonzero(buying)
        t[who] += rng.exponential(1.0 / rate[who])
        done = who[t[who] >= horizon_end]
        buying[done] = False
        bought = who[t[who] < horizon_end]
        times.append(t[bought].copy())
        owners.append(bought)
        buying[bought[rng.random(bought.size) < dropout[bought]]] = False
    ids = np.array([f"p{i:05d}" for i in range(n)])
    owner = np.concatenate(owners)
    ts = start + pd.to_timedelta(np.concatenate(times), unit="D")
    events = events_frame(list(ids[owner]), pd.DatetimeIndex(ts), ["sale"] * owner.size, list(ids))
    fit_cutoff, score_cutoff = pd.Timestamp("2025-11-01", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC")
    requested = {c: pd.DataFrame({"partner_id": ids, "as_of": c}) for c in (fit_cutoff, score_cutoff)}
    train = purchase_summary(events, requested[fit_cutoff])
    test = purchase_summary(events, requested[score_cutoff])
    test = test[test["purchased"]].reset_index(drop=True)

    label_end = score_cutoff + pd.Timedelta(days=HORIZON)
    in_horizon = events[(events["ts"] >= score_cutoff) & (events["ts"] < label_end)]
    observed = ~test["partner_id"].isin(set(in_horizon["partner_id"].astype(str))).to_numpy()

    model = BTYDBaseline().fit(train)
    no_purchase = model.predict_no_purchase(test, HORIZON)
    assert model.fitted_by_ == "maximum_likelihood"
    assert no_purchase.mean() == pytest.approx(observed.mean(), abs=0.02)
    assert roc_auc_score(observed, no_purchase) > 0.75


# ---------------------------------------------------------------------------------------------
# Robustness and behaviour


def test_everyone_bought_once_falls_back_to_the_prior_without_nan() -> None:
    rng = np.random.default_rng(0)
    summary = pd.DataFrame({"frequency": 0, "recency": 0.0, "T": rng.integers(1, 400, 2_000).astype(float), "purchased": True})
    model = BTYDBaseline().fit(summary)
    assert model.fitted_by_ == "prior" and "0 repeat buyers" in model.fallback_reason_
    for scores in (model.predict_no_purchase(summary, HORIZON), model.probability_alive(summary)):
        assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    expected = model.expected_purchases(summary, HORIZON)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    order = np.argsort(summary["T"].to_numpy())
    assert np.all(np.diff(model.predict_no_purchase(summary, HORIZON)[order]) >= 0), "a longer silence must not lower the score"


def test_few_repeat_buyers_fall_back_and_score_everyone() -> None:
    summary = simulate_bgnbd(500, seed=4)
    few = pd.concat([summary[summary["frequency"] > 0].head(5), summary[summary["frequency"] == 0]], ignore_index=True)
    model = BTYDBaseline(min_repeat_buyers=30).fit(few)
    assert model.fitted_by_ == "prior" and model.n_repeat_buyers_ == 5
    scores = model.predict_no_purchase(summary, HORIZON)
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert np.isfinite(model.expected_purchases(summary, HORIZON)).all()


def test_no_purchaser_at_all_is_an_input_error() -> None:
    summary = pd.DataFrame({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [10.0, 20.0], "purchased": [False, False]})
    with pytest.raises(InputError, match="no row has a purchase"):
        BTYDBaseline().fit(summary)


def test_rows_without_a_purchase_are_left_out_of_the_fit_but_scored(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train = simulated[0].head(5_000)
    never = pd.DataFrame({"frequency": 0, "recency": 0.0, "T": np.linspace(1, 300, 1_000), "purchased": False})
    with_never = BTYDBaseline().fit(pd.concat([train, never], ignore_index=True))
    assert with_never.params_ == BTYDBaseline().fit(train).params_
    assert np.isfinite(with_never.predict_no_purchase(never, HORIZON)).all()


def test_more_recent_purchase_and_shorter_horizon_mean_a_higher_no_purchase_probability(fitted: BTYDBaseline) -> None:
    base = pd.DataFrame({"frequency": 6, "recency": np.arange(0.0, 201.0, 10.0), "T": 200.0})
    scores = fitted.predict_no_purchase(base, HORIZON)
    assert np.all(np.diff(scores) < 0), "a more recent last purchase must lower the no-purchase probability"
    assert np.all(fitted.predict_no_purchase(base, 7.0) > scores)


def test_bad_summary_and_unfitted_model_fail_clearly(fitted: BTYDBaseline) -> None:
    with pytest.raises(NotFittedError):
        BTYDBaseline().predict_no_purchase(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]}), HORIZON)
    with pytest.raises(InputError, match="recency greater than T"):
        fitted.predict_no_purchase(pd.DataFrame({"frequency": [1], "recency": [5.0], "T": [2.0]}), HORIZON)
    with pytest.raises(InputError, match="missing column"):
        fitted.predict_no_purchase(pd.DataFrame({"frequency": [1], "T": [2.0]}), HORIZON)
    with pytest.raises(InputError, match="horizon_days"):
        fitted.predict_no_purchase(pd.DataFrame({"frequency": [1], "recency": [1.0], "T": [2.0]}), 0)


def test_a_fitted_model_pickles(fitted: BTYDBaseline, simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    rows = simulated[1].head(100)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_no_purchase(rows, HORIZON), fitted.predict_no_purchase(rows, HORIZON))
