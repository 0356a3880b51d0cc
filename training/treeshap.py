"""TreeSHAP of many rows at once, equal to LightGBM's own, with each tree's work done once per distinct way
a row can go through it.

A booster's TreeSHAP contributions are the sum of its trees'. LightGBM's path-dependent TreeSHAP of one tree
reads a row only through the side it takes at each of the tree's splits (the recursion visits every node
and weighs its two children by whether the row goes there). Rows on the same side of every threshold of
every feature the tree splits on, and alike in being missing (NaN) and in being zero (LightGBM's missing-
as-zero splits test |x| <= 1e-35), therefore get the same contributions from that tree. So, per tree, the
rows are grouped by that pattern, LightGBM computes the tree's contributions for one row of each group
(`predict(pred_contrib=True, start_iteration=t, num_iteration=1)`), and every row of the group gets them.
The result is the booster's own, up to the order of floating-point additions (tested against
`predict(pred_contrib=True)`).

Why it pays: a partner program has many partners alike to a single tree (the long silent, the ones who
never sold, the steady ones, each in the few features a tree splits on), though few alike to the whole
model. Measured on 100,000 partners with a 158-tree risk model (docs/benchmarks.md): 16,700 patterns in the
median tree, 2.8 M tree-rows of work instead of 15.8 M; `score` with model reasons for every partner took
110 s instead of 190 s. Smaller batches share less: 1.9 times cheaper at 15,000 rows, 1.2 at 2,000.

Why not a library: the `shap` package's TreeExplainer runs the same algorithm on every row (and brings its
own dependency tree); FastTreeSHAP, which precomputes per tree, is unmaintained since 2022.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

ZERO_THRESHOLD = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold (1e-35f, a float32): a missing-as-zero split sends |x| <= this the default way."""
GROUPED_FROM_ROWS = 2_000
"""Below this many rows LightGBM's own call on every row is cheaper than a call per tree."""
_KEY_LIMIT = 2**62


@dataclass(frozen=True)
class TreeSplits:
    """The features one tree splits on and, per numeric feature, its sorted thresholds."""

    features: tuple[int, ...]
    thresholds: tuple[np.ndarray | None, ...]
    """Sorted thresholds of a numeric feature; None for a categorical one (its rows are grouped by value)."""


def tree_splits(booster: lgb.Booster, trees: int) -> list[TreeSplits]:
    """The splits of the booster's first `trees` trees, read from its dump."""
    out = []
    for tree in booster.dump_model(num_iteration=trees)["tree_info"][:trees]:
        numeric: dict[int, set[float]] = {}
        categorical: set[int] = set()
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            feature = int(node["split_feature"])
            if node["decision_type"] == "==":
                categorical.add(feature)
            else:
                numeric.setdefault(feature, set()).add(float(node["threshold"]))
            stack += [node["left_child"], node["right_child"]]
        features = sorted(set(numeric) | categorical)
        out.append(
            TreeSplits(
                features=tuple(features),
                thresholds=tuple(None if f in categorical else np.array(sorted(numeric[f])) for f in features),
            )
        )
    return out


def _patterns(matrix: np.ndarray, splits: TreeSplits) -> np.ndarray:
    """Per row, a number that is the same for two rows exactly when they go alike at every split of the tree
    (or, finer, when they also differ in a way the tree does not read: never coarser)."""
    key = np.zeros(len(matrix), dtype=np.int64)
    for feature, thresholds in zip(splits.features, splits.thresholds, strict=True):
        column = matrix[:, feature]
        missing = np.isnan(column)
        if thresholds is None:  # categorical: LightGBM reads the value truncated to an integer, a negative one as none
            whole = np.trunc(np.nan_to_num(column, nan=0.0))
            code = np.where(missing, 0, np.where(whole < 0, 1, whole + 2)).astype(np.int64)
            radix = int(code.max(initial=0)) + 1
        else:
            side = np.searchsorted(thresholds, column, side="left")  # thresholds below x: x <= t goes left
            zero = np.abs(column) <= ZERO_THRESHOLD
            code = np.where(missing, 0, 1 + 2 * side + zero)
            radix = 2 * (thresholds.size + 1) + 1
        if int(key.max(initial=0)) >= _KEY_LIMIT // radix:  # renumber the patterns so far before the key overflows
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * radix + code
    return key


def grouped_contributions(booster: lgb.Booster, matrix: np.ndarray, splits: list[TreeSplits], *, num_threads: int = 0) -> np.ndarray:
    """`booster.predict(matrix, pred_contrib=True)` over the trees of `splits` (its first len(splits) trees):
    one column per feature, then the bias column. Binary and regression boosters only (a tree per iteration)."""
    if booster.num_model_per_iteration() != 1:
        raise ValueError(f"grouped TreeSHAP takes a booster with one tree per iteration, not {booster.num_model_per_iteration()}")
    total = np.zeros((len(matrix), matrix.shape[1] + 1))
    for t, tree in enumerate(splits):
        _, first, group = np.unique(_patterns(matrix, tree), return_index=True, return_inverse=True)
        values = np.asarray(booster.predict(matrix[first], start_iteration=t, num_iteration=1, pred_contrib=True, num_threads=num_threads))
        columns = [*tree.features, matrix.shape[1]]  # a tree contributes only to the features it splits on, and the bias
        total[:, columns] += values[:, columns][group.ravel()]
    return total
