"""LightGBM models for deactivation risk and upgrade potential, calibrated so a score of 0.3 means ~30%.

A `TrainedModel` holds the booster, the calibrator and what it needs to read features (names, the
categories of categorical attributes); `predict` returns calibrated probabilities, never labels. It
saves to and loads from a folder of plain files (booster text, JSON, the calibrator's numbers), which
the MLflow pyfunc and the service both use.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from features.schema import FeatureSpec
from partner_churn.config import LightGBMConfig
from partner_churn.domain import ACTIVE_DAYS_30, LABEL_OF, LAST_ACTIVITY, Target
from partner_churn.errors import DamagedModelError, InputError
from training.treeshap import GROUPED_FROM_ROWS, TreeSplits, grouped_contributions, tree_splits

__all__ = ["LABEL_OF", "LOWER_QUARTILE_PREFIX", "Target", "TrainedModel", "UPPER_QUARTILE_PREFIX", "fit_model", "refit_model", "rows_for"]

Rows: TypeAlias = pd.DataFrame | Mapping[str, Any]
"""Rows to score: a DataFrame, or a mapping of column name to a sequence of values."""
LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX = "p25:", "p75:"
MIN_QUARTILE_ROWS = 50
"""Training rows a group needs for its quartiles to be kept."""
"""Groups of `TrainedModel.typical` that hold a segment's 25th and 75th percentiles ('p25:workhorse',
'p75:all'), beside the median under the segment's own name. Models saved before quartiles were kept
have the median groups only."""
MONOTONE: dict[str, dict[str, int]] = {
    # Domain certainty: more recent activity never raises the risk of going silent, all else equal.
    "deactivation_risk": {LAST_ACTIVITY: 1, ACTIVE_DAYS_30: -1},
    "upgrade_potential": {},
}


def rows_for(target: Target, dataset: pd.DataFrame) -> pd.DataFrame:
    """Rows a model learns from and is judged on: active partners for risk, everyone for potential."""
    label = LABEL_OF[target]
    keep = dataset[label].notna()
    if target == "deactivation_risk":
        keep &= dataset["active"].astype(bool)
    return dataset[keep]


@dataclass
class Calibrator:
    """Maps raw model probabilities to calibrated ones (isotonic or sigmoid, chosen on held-out rows)."""

    method: Literal["isotonic", "sigmoid", "identity"]
    x: list[float] = field(default_factory=list)
    """Isotonic: thresholds; sigmoid: [slope, intercept] on the logit."""
    y: list[float] = field(default_factory=list)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            return np.interp(raw, self.x, self.y)
        if self.method == "sigmoid":
            slope, intercept = self.x
            return 1.0 / (1.0 + np.exp(-(slope * _logit(raw) + intercept)))
        return raw


ISOTONIC_MIN_ROWS_PER_CLASS = 200
"""Isotonic calibration is a step function with a step per run of labels: with fewer positive (or
negative) calibration rows than this it overfits them and hands whole groups of partners risks of
exactly 0 or 1, so sigmoid (two parameters) is used instead."""


def calibration_method_for(label: np.ndarray, method: str) -> str:
    """The method that will be fitted: `method`, except sigmoid where isotonic would overfit."""
    label = np.asarray(label, float)
    smaller_class = int(min(label.sum(), label.size - label.sum()))
    if method in ("auto", "isotonic") and smaller_class < ISOTONIC_MIN_ROWS_PER_CLASS:
        return "sigmoid"
    return method


def fit_calibrator(raw: np.ndarray, label: np.ndarray, method: str, seed: int) -> Calibrator:
    """Fit the calibrator; with method 'auto' pick isotonic or sigmoid by Brier score on a held-out half.

    Sigmoid is used whenever isotonic would overfit (see ISOTONIC_MIN_ROWS_PER_CLASS)."""
    raw, label = np.asarray(raw, float), np.asarray(label, float)
    method = calibration_method_for(label, method)
    if method == "auto":
        rng = np.random.default_rng(seed)
        half = rng.random(raw.size) < 0.5
        scores = {}
        for candidate in ("isotonic", "sigmoid"):
            fitted = _fit_one(raw[half], label[half], candidate)
            scores[candidate] = brier_score_loss(label[~half], fitted(raw[~half]))
        method = min(scores, key=scores.__getitem__)
    return _fit_one(raw, label, method)


def _fit_one(raw: np.ndarray, label: np.ndarray, method: str) -> Calibrator:
    if method == "isotonic":
        # Never exactly 0 or 1: the end steps are kept half a row inside (0.5 / n), as no finite sample proves certainty.
        floor = 0.5 / max(label.size, 1)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=floor, y_max=1.0 - floor).fit(raw, label)
        return Calibrator("isotonic", list(map(float, iso.X_thresholds_)), list(map(float, iso.y_thresholds_)))
    logistic = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), label)
    return Calibrator("sigmoid", [float(logistic.coef_[0, 0]), float(logistic.intercept_[0])])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class TrainedModel:
    """A fitted, calibrated model and everything needed to score a feature frame with it."""

    target: Target
    booster: lgb.Booster
    features: list[str]
    categories: dict[str, list[str]]
    calibrator: Calibrator
    best_iteration: int
    trained_at: str
    training_cutoffs: list[str]
    monotone: dict[str, int]
    typical: dict[str, dict[str, float]] = field(default_factory=dict)
    """Median of each numeric feature over the training rows, per segment and over 'all' (groups named
    by the segment), and its 25th and 75th percentiles (groups 'p25:<segment>', 'p75:<segment>'): what
    'usual' means in reasons (a Workhorse is compared with Workhorses). Models saved before the quartiles
    were kept have the median groups only; older ones none."""
    program: dict[str, Any] = field(default_factory=dict)
    """The program's figures at the end of the training data (`ProgramContext.snapshot`): what the
    service measures a single partner's revenue share and segment against."""
    trained_through: str = ""
    """End of the newest label window the model learned from (ISO UTC): what it knows of the program
    stops there. Empty for models saved before it was recorded."""
    validated_by: dict[str, Any] = field(default_factory=dict)
    """How the folds chose this refit's rounds and calibrator: the folds' best iterations, the rounds used,
    the rows the calibrator was fitted on. Empty for a fold's own model."""

    def matrix(self, rows: Rows) -> np.ndarray:
        """The model's input as LightGBM reads it: its features in order as floats, each categorical as
        the position of its value among the training categories (NaN when missing or unseen).

        `rows` is a DataFrame or a mapping of column name to values (the service's records, column-wise);
        building the array directly costs microseconds per row where pandas' conversion cost milliseconds
        per call, which is what a single-partner request pays.
        """
        missing = [name for name in self.features if name not in rows]
        if missing:
            raise InputError(f"feature frame lacks {len(missing)} model features, e.g. {missing[:5]}")
        columns = []
        for name in self.features:
            values = rows[name]
            if name in self.categories:
                position = {value: float(i) for i, value in enumerate(self.categories[name])}
                columns.append(np.fromiter((position.get(v, np.nan) if isinstance(v, str) else np.nan for v in values), float, len(values)))
            else:
                columns.append(_as_float(values))
        return np.column_stack(columns) if columns else np.empty((len(rows), 0))

    def raw_probability(self, rows: Rows) -> np.ndarray:
        """Uncalibrated LightGBM probability."""
        matrix = self.matrix(rows)
        return np.asarray(self.booster.predict(matrix, num_iteration=self.best_iteration, num_threads=_threads(len(matrix))))

    def predict(self, rows: Rows) -> np.ndarray:
        """Calibrated probability of the target event per row."""
        return np.clip(self.calibrator(self.raw_probability(rows)), 0.0, 1.0)

    def contributions(self, rows: Rows) -> np.ndarray:
        """Per-feature contributions (TreeSHAP, log-odds) per row, without the bias column; for a large batch
        each tree's once per distinct way through it (`training.treeshap`), the same values."""
        matrix = self.matrix(rows)
        if len(matrix) >= GROUPED_FROM_ROWS:
            return grouped_contributions(self.booster, matrix, self._tree_splits, num_threads=_threads(len(matrix)))[:, :-1]
        values = self.booster.predict(matrix, num_iteration=self.best_iteration, pred_contrib=True, num_threads=_threads(len(matrix)))
        return np.asarray(values)[:, :-1]

    def prepare_large_batches(self) -> None:
        """Read the trees' splits for grouped TreeSHAP now (about 0.2 s for 200 trees) rather than on the first
        large batch explained: the service does it when it loads a model, before any request waits."""
        _ = self._tree_splits

    @functools.cached_property
    def _tree_splits(self) -> list[TreeSplits]:
        return tree_splits(self.booster, self.best_iteration if self.best_iteration > 0 else self.booster.num_trees())

    def save(self, folder: Path) -> None:
        """Write the model as plain files: booster.txt and model.json."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "booster.txt").write_text(self.booster.model_to_string(num_iteration=self.best_iteration))
        meta = {
            "target": self.target,
            "features": self.features,
            "categories": self.categories,
            "calibrator": {"method": self.calibrator.method, "x": self.calibrator.x, "y": self.calibrator.y},
            "best_iteration": self.best_iteration,
            "trained_at": self.trained_at,
            "training_cutoffs": self.training_cutoffs,
            "monotone": self.monotone,
            "typical": self.typical,
            "program": self.program,
            "trained_through": self.trained_through,
            "validated_by": self.validated_by,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        """Read a model written by `save`; InputError in one line when its files are missing or damaged."""
        try:
            return cls._read(folder)
        except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise DamagedModelError(f"the model files in {folder} are missing or damaged ({type(exc).__name__}: {detail})") from None

    @classmethod
    def _read(cls, folder: Path) -> TrainedModel:
        meta = json.loads((folder / "model.json").read_text())
        booster = lgb.Booster(model_str=(folder / "booster.txt").read_text())
        return cls(
            target=meta["target"],
            booster=booster,
            features=meta["features"],
            categories=meta["categories"],
            calibrator=Calibrator(**meta["calibrator"]),
            best_iteration=0,  # the saved booster holds exactly the trees it uses
            trained_at=meta["trained_at"],
            training_cutoffs=meta["training_cutoffs"],
            monotone=meta["monotone"],
            typical=meta.get("typical", {}),
            program=meta.get("program", {}),
            trained_through=meta.get("trained_through", ""),
            validated_by=meta.get("validated_by", {}),
        )


SMALL_BATCH_ROWS = 1_000
"""Below this many rows LightGBM predicts on one thread: starting OpenMP threads costs ~1 ms a call,
more than predicting a few hundred rows."""


def _threads(rows: int) -> int:
    return 1 if rows < SMALL_BATCH_ROWS else 0


def _as_float(values: Any) -> np.ndarray:
    """Values as floats; anything that is not a number (None, text) becomes NaN, as in training."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(float)
    return pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(dtype=float)


def feature_matrix(frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]) -> pd.DataFrame:
    """`features` of `frame` in order, as LightGBM reads them: categoricals with fixed categories, the rest float."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise InputError(f"feature frame lacks {len(missing)} model features, e.g. {missing[:5]}")
    matrix = frame[features].copy()
    for name, known in categories.items():
        matrix[name] = pd.Categorical(matrix[name].astype(object).where(matrix[name].notna(), None), categories=known)
    for name in features:
        if name not in categories:
            matrix[name] = pd.to_numeric(matrix[name], errors="coerce").astype(float)
    return matrix


def _typical_values(rows: pd.DataFrame, names: list[str]) -> dict[str, dict[str, float]]:
    """Median, 25th and 75th percentile of numeric features over all rows and within each segment, as
    `TrainedModel.typical` holds them (features with no value left out)."""
    numbers = rows[names].apply(pd.to_numeric, errors="coerce")
    groups = {"all": numbers}
    if "segment" in rows:
        groups |= {str(segment): frame for segment, frame in numbers.groupby(rows["segment"].astype(str).to_numpy())}
    typical: dict[str, dict[str, float]] = {}
    for group, frame in groups.items():
        # Linear interpolation, pandas' default: the same quantiles as bench.reasons_filler's yardstick.
        quantiles = frame.quantile([0.25, 0.5, 0.75])
        kept = (("", 0.5), (LOWER_QUARTILE_PREFIX, 0.25), (UPPER_QUARTILE_PREFIX, 0.75)) if len(frame) >= MIN_QUARTILE_ROWS else (("", 0.5),)
        for prefix, q in kept:  # a handful of rows has quartiles that nearly meet: the median band is the better judge there
            typical[prefix + group] = {name: float(value) for name, value in quantiles.loc[q].items() if pd.notna(value)}
    return typical


def fit_model(
    target: Target,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    calibration: pd.DataFrame,
    schema: list[FeatureSpec],
    params: LightGBMConfig,
    *,
    calibration_method: str,
    seed: int,
) -> TrainedModel:
    """One fold of the procedure: fit on train, stop early on validation, calibrate on calibration (three
    periods, oldest first)."""
    model = _fit(target, train, schema, params, seed=seed, validation=validation)
    label = LABEL_OF[target]
    model.calibrator = fit_calibrator(model.raw_probability(calibration), calibration[label].to_numpy(float), calibration_method, seed)
    return model


def refit_model(
    target: Target,
    train: pd.DataFrame,
    schema: list[FeatureSpec],
    params: LightGBMConfig,
    *,
    rounds: int,
    calibrator: Calibrator,
    seed: int,
) -> TrainedModel:
    """The final refit: `rounds` boosting rounds on train (no later period is left to stop on) and a
    calibrator fitted elsewhere (the folds' out-of-fold scores)."""
    model = _fit(target, train, schema, params, seed=seed, rounds=rounds)
    model.calibrator = calibrator
    return model


def _fit(
    target: Target,
    train: pd.DataFrame,
    schema: list[FeatureSpec],
    params: LightGBMConfig,
    *,
    seed: int,
    validation: pd.DataFrame | None = None,
    rounds: int | None = None,
) -> TrainedModel:
    """The booster, uncalibrated: early-stopped on `validation`, or exactly `rounds` rounds."""
    label = LABEL_OF[target]
    names = [spec.name for spec in schema]
    categories = {spec.name: sorted(train[spec.name].dropna().astype(str).unique().tolist()) for spec in schema if spec.kind == "category"}
    monotone = {name: sign for name, sign in MONOTONE[target].items() if name in names}
    lgb_params = {
        "objective": "binary",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_child_samples": params.min_child_samples,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": params.bagging_freq,
        "lambda_l2": params.lambda_l2,
        "num_threads": params.num_threads,
        "monotone_constraints": [monotone.get(name, 0) for name in names],
        "monotone_constraints_method": "basic",  # "advanced" can violate the constraints (LightGBM #5358, #6155)
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    train_set = lgb.Dataset(
        feature_matrix(train, names, categories),
        label=train[label].to_numpy(float),
        categorical_feature=list(categories) or "auto",
        free_raw_data=True,
    )
    if validation is not None:
        valid_set = lgb.Dataset(feature_matrix(validation, names, categories), label=validation[label].to_numpy(float), reference=train_set)
        booster = lgb.train(
            lgb_params,
            train_set,
            num_boost_round=params.n_estimators,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
        )
        best = booster.best_iteration or booster.current_iteration()
    else:
        booster = lgb.train(lgb_params, train_set, num_boost_round=max(1, int(rounds or params.n_estimators)))
        best = booster.current_iteration()
    return TrainedModel(
        target=target,
        booster=booster,
        features=names,
        categories=categories,
        calibrator=Calibrator("identity"),
        best_iteration=best,
        trained_at=pd.Timestamp.now(tz="UTC").isoformat(),
        training_cutoffs=sorted(str(c) for c in train["as_of"].unique()),
        monotone=monotone,
        typical=_typical_values(train, [name for name in names if name not in categories]),
    )
