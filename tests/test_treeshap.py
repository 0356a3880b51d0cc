"""TreeSHAP grouped per tree (training/treeshap.py) against LightGBM's own `pred_contrib` on every row: rows
exactly on thresholds and a hair either side, missing values, zeros under missing-as-zero splits, a
categorical feature, and a booster read only up to its best iteration."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training.treeshap import ZERO_THRESHOLD, grouped_contributions, tree_splits


def booster_and_rows(*, zero_as_missing: bool, seed: int = 0) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 4_000
    x = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 6, n).astype(float),  # categorical
            np.where(rng.random(n) < 0.3, 0.0, rng.exponential(2.0, n)),  # many zeros
            np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),  # missing values
            rng.integers(0, 40, n).astype(float),  # whole days, as most features are
        ]
    )
    logit = x[:, 0] + (x[:, 1] == 3) - 0.5 * (x[:, 2] == 0) + np.nan_to_num(x[:, 3]) * 0.7 + 0.05 * x[:, 4]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "verbose": -1,
        "deterministic": True,
        "zero_as_missing": zero_as_missing,
        "min_data_in_leaf": 5,
    }
    booster = lgb.train(params, lgb.Dataset(x, y, categorical_feature=[1]), num_boost_round=40)
    # Rows to explain: fresh ones, plus every threshold itself and the doubles next to it, zeros of both signs,
    # values around the zero threshold, NaN and unseen categories.
    fresh = x[rng.permutation(n)[:2_500]].copy()
    edges = []
    for splits in tree_splits(booster, booster.num_trees()):
        for feature, thresholds in zip(splits.features, splits.thresholds, strict=True):
            for t in thresholds if thresholds is not None else []:
                for value in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
                    row = fresh[rng.integers(0, len(fresh))].copy()
                    row[feature] = value
                    edges.append(row)
    for value in (0.0, -0.0, ZERO_THRESHOLD, -ZERO_THRESHOLD, 2 * ZERO_THRESHOLD, np.nan):
        for feature in (0, 2, 3, 4):
            row = fresh[rng.integers(0, len(fresh))].copy()
            row[feature] = value
            edges.append(row)
    for category in (np.nan, 7.0, -0.5, -2.0, -3.7, 2.9, 5.5):  # LightGBM truncates to an integer, reads a negative one as none
        for base in range(5):
            row = fresh[base].copy()
            row[1] = category
            edges.append(row)
    return booster, np.vstack([fresh, np.array(edges)])


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_grouped_treeshap_equals_lightgbms_own_on_every_row(zero_as_missing: bool) -> None:
    booster, rows = booster_and_rows(zero_as_missing=zero_as_missing)
    own = booster.predict(rows, pred_contrib=True)
    asked: list[int] = []

    class Counting:  # the booster, counting the rows each tree's call is given
        def predict(self, matrix: np.ndarray, **kwargs: object) -> np.ndarray:
            asked.append(len(matrix))
            return np.asarray(booster.predict(matrix, **kwargs))

        def num_model_per_iteration(self) -> int:
            return booster.num_model_per_iteration()

    grouped = grouped_contributions(Counting(), rows, tree_splits(booster, booster.num_trees()))  # type: ignore[arg-type]
    assert grouped.shape == own.shape
    np.testing.assert_allclose(grouped, own, rtol=0, atol=1e-12)
    # The grouping does the work: a call per tree, each on far fewer rows than the batch.
    assert len(asked) == booster.num_trees() and sum(asked) < 0.5 * len(rows) * booster.num_trees()


def test_a_booster_with_several_trees_an_iteration_is_refused() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 3)), rng.integers(0, 3, 300)
    booster = lgb.train({"objective": "multiclass", "num_class": 3, "verbose": -1}, lgb.Dataset(x, y), num_boost_round=3)
    with pytest.raises(ValueError, match="one tree per iteration"):
        grouped_contributions(booster, x, tree_splits(booster, 3))


def test_up_to_a_best_iteration_only_those_trees_count() -> None:
    booster, rows = booster_and_rows(zero_as_missing=False, seed=1)
    own = booster.predict(rows, num_iteration=12, pred_contrib=True)
    np.testing.assert_allclose(grouped_contributions(booster, rows, tree_splits(booster, 12)), own, rtol=0, atol=1e-12)
    assert not np.allclose(own, booster.predict(rows, pred_contrib=True))  # the later trees would have changed them
