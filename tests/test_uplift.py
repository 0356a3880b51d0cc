"""The per-action uplift model (training/uplift.py): Qini and uplift at k% against brute-force loops, the
S-learner finding who gains on built data, out-of-time judgement, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partner_churn.errors import InputError
from training import uplift
from training.uplift import ActionUplift, evaluate_out_of_time, fit_action_uplift, qini_coefficient, qini_curve, uplift_at


def brute_force_qini(score: np.ndarray, contacted: np.ndarray, outcome: np.ndarray, order: np.ndarray) -> list[float]:
    """Q(t) by its definition, one t at a time, in a given targeting order."""
    curve = [0.0]
    for t in range(1, order.size + 1):
        top = order[:t]
        treated, held = top[contacted[top]], top[~contacted[top]]
        curve.append(outcome[treated].sum() - outcome[held].sum() * len(treated) / len(held) if len(held) else 0.0)
    return curve


def test_the_qini_curve_and_uplift_at_k_follow_their_definitions() -> None:
    rng = np.random.default_rng(1)
    score = rng.integers(0, 5, 40).astype(float)  # many ties: the order breaks them the same way everywhere
    contacted = rng.random(40) < 0.7
    outcome = (rng.random(40) < 0.5).astype(float)
    order = uplift._targeting_order(score, seed=3)
    assert list(score[order]) == sorted(score, reverse=True)
    assert qini_curve(score, contacted, outcome, seed=3) == pytest.approx(brute_force_qini(score, contacted, outcome, order))
    top = order[:12]
    expected = outcome[top][contacted[top]].mean() - outcome[top][~contacted[top]].mean()
    assert uplift_at(score, contacted, outcome, 0.3, seed=3) == pytest.approx(expected)
    q = np.array(brute_force_qini(score, contacted, outcome, order))
    line = np.arange(41) / 40 * q[-1]
    area = sum((q[i] - line[i] + q[i + 1] - line[i + 1]) / 2 for i in range(40))
    assert qini_coefficient(score, contacted, outcome, seed=3) == pytest.approx(area / 40**2)
    points = uplift.curve_points(score, contacted, outcome, seed=3)
    assert len(points) == uplift.CURVE_STEPS + 1 and points[0] == 0.0
    assert points[-1] == pytest.approx(q[-1] / 40) and points[10] == pytest.approx(q[20] / 40)


def heterogeneous_log(n: int, seed: int, effect_if_engaged: float = 0.3) -> pd.DataFrame:
    """An action log over a year: contact keeps partners with `engaged` > 0 much more often, the others
    not at all; 20% held out at random."""
    rng = np.random.default_rng(seed)
    engaged = rng.normal(size=n)
    noise = rng.normal(size=n)
    holdout = rng.random(n) < 0.2
    base = 0.4 + 0.1 * np.tanh(noise)
    p_kept = base + np.where(~holdout & (engaged > 0), effect_if_engaged, 0.0)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 365, n)), unit="D")
    return pd.DataFrame(
        {
            "ts": ts,
            "engaged": engaged,
            "noise": noise,
            "kind": np.where(rng.random(n) < 0.5, "a", "b"),
            "holdout": holdout,
            "kept": (rng.random(n) < p_kept).astype(float),
        }
    )


def test_the_uplift_model_finds_who_gains_and_beats_random_targeting_out_of_time() -> None:
    log = heterogeneous_log(6000, seed=2)
    model = fit_action_uplift(log, "call", ["engaged", "noise", "kind"], ["kind"], seed=1)
    probe = pd.DataFrame({"engaged": [-1.5, 1.5], "noise": [0.0, 0.0], "kind": ["a", "a"]})
    low, high = model.uplift(probe)
    assert high - low > 0.15 and abs(low) < 0.1, (low, high)
    assert model.rows == {"contacted": int((~log["holdout"]).sum()), "held_out": int(log["holdout"].sum())}

    judged = evaluate_out_of_time(
        log, "call", ["engaged", "noise", "kind"], ["kind"], split=pd.Timestamp("2026-09-01", tz="UTC"), seed=1, horizon_days=30
    )
    assert judged.beats_random and judged.qini > 0
    assert sum(judged.test_rows.values()) == int((log["ts"] >= pd.Timestamp("2026-09-01", tz="UTC")).sum())
    # It learned only from rows whose 30-day outcome had ended by the split: none of the judged period's events.
    assert sum(judged.train_rows.values()) == int((log["ts"] + pd.Timedelta(days=30) <= pd.Timestamp("2026-09-01", tz="UTC")).sum())
    assert judged.uplift_at[0.3] > judged.effect > 0  # the best-scored third gains more than the average partner


def test_without_any_effect_the_model_does_not_beat_random() -> None:
    log = heterogeneous_log(4000, seed=5, effect_if_engaged=0.0)
    judged = evaluate_out_of_time(
        log, "call", ["engaged", "noise", "kind"], ["kind"], split=pd.Timestamp("2026-09-01", tz="UTC"), seed=1, horizon_days=30
    )
    assert not judged.beats_random
    assert judged.qini_low < 0 < judged.qini_high


def test_a_random_score_has_a_qini_of_about_zero() -> None:
    log = heterogeneous_log(3000, seed=7)
    contacted, kept = ~log["holdout"].to_numpy(), log["kept"].to_numpy()
    figures = [qini_coefficient(np.random.default_rng(s).random(len(log)), contacted, kept, seed=s) for s in range(30)]
    oracle = qini_coefficient(log["engaged"].to_numpy() > 0, contacted, kept)
    assert abs(np.mean(figures)) < 0.2 * oracle and oracle > 0


def test_the_model_knows_the_range_the_log_covers_on_what_it_leans_on() -> None:
    log = heterogeneous_log(6000, seed=2)
    model = fit_action_uplift(log, "call", ["engaged", "noise", "kind"], ["kind"], seed=1)
    engaged = model.support["engaged"]  # the feature the uplift depends on is checked, within the log's quantiles
    assert engaged["low"] == pytest.approx(np.quantile(log["engaged"], 0.005)) and engaged["high"] == pytest.approx(
        np.quantile(log["engaged"], 0.995)
    )
    assert not engaged["missing"]
    probe = pd.DataFrame({"engaged": [0.5, 9.0, -9.0, np.nan], "noise": [0.0] * 4, "kind": ["a"] * 4})
    assert list(model.within_support(probe)) == [True, False, False, False]  # no partner like the last three was measured
    if "kind" in model.support:
        assert not model.within_support(probe.assign(kind="c"))[0]  # a category the log never had


def test_an_uplift_model_saved_and_loaded_scores_the_same(tmp_path: Path) -> None:
    log = heterogeneous_log(1500, seed=3)
    model = fit_action_uplift(log, "call", ["engaged", "noise", "kind"], ["kind"], seed=1)
    model.save(tmp_path / "call")
    loaded = ActionUplift.load(tmp_path / "call")
    assert loaded.action == "call" and loaded.rows == model.rows and loaded.categories == {"kind": ["a", "b"]}
    assert np.array_equal(loaded.uplift(log), model.uplift(log))
    assert loaded.support == model.support and "engaged" in loaded.support
    assert np.array_equal(loaded.within_support(log), model.within_support(log))


def test_too_few_rows_in_an_arm_is_one_clear_error() -> None:
    log = heterogeneous_log(400, seed=4)
    log = log[~log["holdout"] | (np.arange(len(log)) < 100)]  # a handful of held-out rows left
    with pytest.raises(InputError, match=r"uplift of call: too few rows to learn from \(\d+ held_out; at least 30 per arm\)"):
        fit_action_uplift(log, "call", ["engaged"], [], seed=1)
