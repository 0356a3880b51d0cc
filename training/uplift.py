"""Per-partner uplift of a retention action, learned from the action log's randomised holdouts.

One model per action, a single-model ("S") learner: one LightGBM classifier of the outcome over all of the
action's rows, on the features at the action's time plus whether the partner was contacted; a partner's
uplift is its probability contacted minus its probability held out. Among the partners the managers chose
for an action, the holdout is random, so both arms describe the same population and the difference is causal
for it (not for partners never chosen). The outcome is `kept`: any qualifying event within the horizon after
the action's day (1 - `silent`); a positive uplift means the action keeps the partner active.

Why one model and not two (a "T" learner, one per arm, which this module used first): the holdout arm is a
fifth of an action's rows, so a model of it alone is noisy, and the difference of two independently noisy
models ranks partners by their noise. One model learns the outcome's structure from every row and the
contact's part where the data support it. Measured on four 100,000-partner generated programs (2026-12-05,
docs/benchmarks.md): the predicted uplift's correlation with the generator's true per-partner uplift was
0.20-0.26 against the T learner's 0.01-0.20 for the check-in and 0.40-0.53 against 0.11-0.42 for the
comeback offer, and the offer beat random targeting out of time on 4 programs of 4 (T: 3), the check-in on 2
(T: 0). An R-, a DR-, an X-learner and a transformed outcome with the known holdout rate, tried on one of
them, beat random on neither action and followed the truth less closely. The contact column is offered to
every tree (feature_fraction 1): a tree that cannot split on it cannot learn the contact's interactions.

Why ours and not a library: econml's `DRLearner` would need the known holdout rate passed as a fixed
propensity (a learned one biases effects on randomised data) and brings its own dependency tree for what one
booster does here (and the DR regression did not rank better, above); scikit-uplift is binary-only and
unmaintained since 2022; causalml is heavy. The Qini curve and uplift at k% are the standard formulas
(Radcliffe 2007), checked in the tests against a brute-force loop.

Evaluation is out of time: models fitted on the actions before a split date are judged on the actions
after it. The Qini coefficient is the area between the model's Qini curve and random targeting's straight
line, divided by the square of the test rows (so it reads as an effect per partner, comparable across test
sets; 0 for random targeting in expectation), with a bootstrap interval over the test rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from partner_churn.errors import InputError
from training.model import feature_matrix

KEPT = "kept"
"""The outcome column: 1 if the partner had a qualifying event within the horizon after the action's day."""
HOLDOUT = "holdout"
UPLIFT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 40,
    "lambda_l2": 10.0,
    "feature_fraction": 1.0,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
"""Small, strongly regularised trees: an action has hundreds to tens of thousands of rows, a fifth of them
held out; every tree may split on the contact (see the module's note)."""
CONTACTED = "action_contacted"
"""The model's column saying whether the row's partner was contacted (1) or held out (0)."""
MAX_ROUNDS = 300
EARLY_STOPPING_ROUNDS = 30
VALIDATION_SHARE = 0.2
"""The latest share of the training rows (by time) picks the rounds by early stopping; the model is then
refitted on all of them with those rounds."""
MIN_ARM_ROWS = 30
"""Fewer rows than this in either arm: no model for the action."""
SUPPORT_GAIN_SHARE = 0.9
"""The model's support is checked on the fewest features that carry this share of its split gain (the contact
column aside): the ones its uplift leans on."""
SUPPORT_QUANTILES = (0.005, 0.995)
"""A partner is inside the log's range on a numeric feature between these quantiles of the rows learned from."""
TOP_SHARES = (0.1, 0.2, 0.3, 0.5)
"""Targeted shares at which uplift is reported (uplift at k%)."""


@dataclass
class ActionUplift:
    """An action's outcome model (features plus `CONTACTED`) and what it needs to read features."""

    action: str
    features: list[str]
    categories: dict[str, list[str]]
    booster: lgb.Booster
    rows: dict[str, int] = field(default_factory=dict)
    """Training rows per arm ('contacted', 'held_out')."""
    trained_through: str = ""
    """The latest action time the model learned from (ISO UTC)."""
    support: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per feature the uplift leans on, the range the log covers: numeric {'low', 'high', 'missing'} (the
    quantiles `SUPPORT_QUANTILES`; whether rows without a value were learned from), categorical
    {'values', 'missing'}. The log measured the action on the partners the managers chose; outside their
    range the model's uplift is an extrapolation, and `within_support` says so."""

    def within_support(self, frame: pd.DataFrame) -> np.ndarray:
        """Per row: every feature of `support` inside the range the log covers."""
        inside = np.ones(len(frame), dtype=bool)
        for name, bounds in self.support.items():
            column = frame[name]
            missing = column.isna().to_numpy()
            if "values" in bounds:
                known = column.astype(str).isin(bounds["values"]).to_numpy()
            else:
                values = pd.to_numeric(column, errors="coerce").to_numpy(float)
                with np.errstate(invalid="ignore"):
                    known = (values >= bounds["low"]) & (values <= bounds["high"])
            inside &= np.where(missing, bool(bounds["missing"]), known)
        return inside

    def kept_probabilities(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """P(kept | contacted) and P(kept | held out) of each row."""
        matrix = feature_matrix(frame, self.features, self.categories)
        contacted = np.asarray(self.booster.predict(_with_contact(matrix, 1.0)))
        held_out = np.asarray(self.booster.predict(_with_contact(matrix, 0.0)))
        return contacted, held_out

    def uplift(self, frame: pd.DataFrame) -> np.ndarray:
        """The action's effect on the chance of staying active, per row (positive: it keeps the partner)."""
        contacted, held_out = self.kept_probabilities(frame)
        return contacted - held_out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / "model.txt"))
        meta = {
            "action": self.action,
            "features": self.features,
            "categories": self.categories,
            "rows": self.rows,
            "trained_through": self.trained_through,
            "support": self.support,
        }
        (folder / "uplift.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ActionUplift:
        meta = json.loads((folder / "uplift.json").read_text(encoding="utf-8"))
        return cls(
            action=meta["action"],
            features=list(meta["features"]),
            categories={k: list(v) for k, v in meta["categories"].items()},
            booster=lgb.Booster(model_file=str(folder / "model.txt")),
            rows={k: int(v) for k, v in meta["rows"].items()},
            trained_through=str(meta.get("trained_through", "")),
            support={k: dict(v) for k, v in meta.get("support", {}).items()},
        )


def _with_contact(matrix: pd.DataFrame, contacted: np.ndarray | float) -> pd.DataFrame:
    """The feature matrix with the `CONTACTED` column first."""
    return matrix.assign(**{CONTACTED: contacted})[[CONTACTED, *matrix.columns]]


def fit_action_uplift(rows: pd.DataFrame, action: str, features: list[str], categorical: list[str], *, seed: int) -> ActionUplift:
    """The action's model fitted on `rows` (one action's rows: features, `holdout`, `kept`, `ts`).

    Its rounds come from early stopping on the latest `VALIDATION_SHARE` of rows by time, then it is refitted
    on all of them: validation is later than training, as everywhere in this project."""
    usable = rows[rows[HOLDOUT].notna() & rows[KEPT].notna()].sort_values("ts", kind="stable")
    held = usable[HOLDOUT].astype(bool).to_numpy()
    arms = {"contacted": int((~held).sum()), "held_out": int(held.sum())}
    short = {name: n for name, n in arms.items() if n < MIN_ARM_ROWS}
    if short:
        raise InputError(
            f"uplift of {action}: too few rows to learn from ({', '.join(f'{n} {k}' for k, n in short.items())}; at least {MIN_ARM_ROWS} per arm)"
        )
    if any(name == CONTACTED for name in features):
        raise InputError(f"uplift of {action}: a feature is named {CONTACTED!r}, the model's own column for the contact")
    categories = {name: sorted(usable[name].dropna().astype(str).unique().tolist()) for name in categorical if name in features}
    matrix = _with_contact(feature_matrix(usable, features, categories), (~held).astype(float))
    label = usable[KEPT].to_numpy(float)
    params = {**UPLIFT_PARAMS, "seed": seed}
    split = int(len(usable) * (1 - VALIDATION_SHARE))
    rounds = MAX_ROUNDS
    if min(split, len(usable) - split) >= MIN_ARM_ROWS and 0 < label[split:].mean() < 1:
        train_set = lgb.Dataset(matrix.iloc[:split], label=label[:split], free_raw_data=True)
        valid_set = lgb.Dataset(matrix.iloc[split:], label=label[split:], reference=train_set)
        probe = lgb.train(
            params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        rounds = max(1, probe.best_iteration or probe.current_iteration())
    booster = lgb.train(params, lgb.Dataset(matrix, label=label), num_boost_round=rounds)
    return ActionUplift(
        action=action,
        features=list(features),
        categories=categories,
        booster=booster,
        rows=arms,
        trained_through=pd.Timestamp(usable["ts"].max()).isoformat(),
        support=_support(usable, booster, categories),
    )


def _support(rows: pd.DataFrame, booster: lgb.Booster, categories: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """The range `rows` cover on the fewest features carrying `SUPPORT_GAIN_SHARE` of the booster's split gain."""
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name()).drop(CONTACTED)
    gain = gain[gain > 0].sort_values(ascending=False, kind="stable")
    if gain.empty:
        return {}
    leaning = gain.index[: int(np.searchsorted(gain.cumsum().to_numpy() / gain.sum(), SUPPORT_GAIN_SHARE)) + 1]
    support: dict[str, dict[str, Any]] = {}
    for name in leaning:
        column = rows[name]
        missing = bool(column.isna().any())
        if name in categories:
            support[name] = {"values": sorted(column.dropna().astype(str).unique().tolist()), "missing": missing}
        else:
            low, high = np.nanquantile(pd.to_numeric(column, errors="coerce").to_numpy(float), SUPPORT_QUANTILES)
            support[name] = {"low": float(low), "high": float(high), "missing": missing}
    return support


# --------------------------------------------------------------------------------------------------
# The Qini curve and uplift at k%


def _targeting_order(score: np.ndarray, seed: int) -> np.ndarray:
    """Rows by score, highest first; ties in a fixed random order (small trees tie many partners)."""
    shuffled = np.random.default_rng(seed).permutation(score.size)
    return shuffled[np.argsort(-score[shuffled], kind="stable")]


def qini_curve(score: np.ndarray, contacted: np.ndarray, outcome: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Q(t) for t = 0..n targeted rows, best score first: outcomes among the contacted of the top t minus
    the held-out ones' outcomes scaled to as many rows, R_T(t) - R_C(t) * N_T(t) / N_C(t) (0 while no
    held-out row is among them). Q(n) is the overall effect times the contacted rows."""
    order = _targeting_order(np.asarray(score, float), seed)
    treated = np.asarray(contacted, bool)[order]
    y = np.asarray(outcome, float)[order]
    n_t, n_c = np.cumsum(treated), np.cumsum(~treated)
    r_t, r_c = np.cumsum(y * treated), np.cumsum(y * ~treated)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, r_t - r_c * n_t / np.maximum(n_c, 1), 0.0)
    return np.concatenate([[0.0], q])


def qini_coefficient(score: np.ndarray, contacted: np.ndarray, outcome: np.ndarray, *, seed: int = 0) -> float:
    """Area between the Qini curve and random targeting's straight line to Q(n), divided by n squared:
    0 for random targeting in expectation, positive when the best-scored partners gain most."""
    q = qini_curve(score, contacted, outcome, seed=seed)
    n = q.size - 1
    if n == 0:
        return float("nan")
    random_line = np.arange(n + 1) / n * q[-1]
    return float(np.trapezoid(q - random_line) / n**2)


def uplift_at(score: np.ndarray, contacted: np.ndarray, outcome: np.ndarray, share: float, *, seed: int = 0) -> float:
    """Mean outcome of the contacted minus the held out among the top `share` of rows by score (NaN when
    an arm is empty there)."""
    order = _targeting_order(np.asarray(score, float), seed)
    top = order[: max(1, int(round(share * order.size)))]
    treated = np.asarray(contacted, bool)[top]
    y = np.asarray(outcome, float)[top]
    if treated.all() or not treated.any():
        return float("nan")
    return float(y[treated].mean() - y[~treated].mean())


@dataclass(frozen=True)
class UpliftEvaluation:
    """An action's uplift model judged on later actions than it learned from."""

    action: str
    split: str
    train_rows: dict[str, int]
    test_rows: dict[str, int]
    qini: float
    qini_low: float
    qini_high: float
    uplift_at: dict[float, float]
    effect: float
    """The test rows' overall effect on `kept` (contacted minus held out): what random targeting gets."""
    curve: list[float] = field(default_factory=list)
    """The Qini curve at 0, 5, ..., 100% of the test rows targeted, as Q(t) / n (the report's chart)."""

    @property
    def beats_random(self) -> bool:
        """The Qini coefficient's 95% bootstrap interval lies above zero."""
        return bool(self.qini_low > 0)


def evaluate_out_of_time(
    rows: pd.DataFrame,
    action: str,
    features: list[str],
    categorical: list[str],
    *,
    split: pd.Timestamp,
    seed: int,
    horizon_days: int,
    bootstrap: int = 200,
) -> UpliftEvaluation:
    """Fit on the action's rows whose outcome window [day, day + `horizon_days`) ended by `split` (no outcome of
    the judged period is learned from), judge on those at or after it."""
    usable = rows[rows[HOLDOUT].notna() & rows[KEPT].notna()]
    ts = pd.to_datetime(usable["ts"], utc=True)
    outcome_end = ts.dt.floor("D") + pd.Timedelta(days=horizon_days)
    train, test = usable[(outcome_end <= split).to_numpy()], usable[(ts >= split).to_numpy()]
    model = fit_action_uplift(train, action, features, categorical, seed=seed)
    contacted = ~test[HOLDOUT].astype(bool).to_numpy()
    if contacted.all() or not contacted.any():
        raise InputError(
            f"uplift of {action}: the rows from {split:%Y-%m-%d} on have no {'held-out' if contacted.all() else 'contacted'} partner to judge by"
        )
    score = model.uplift(test)
    kept = test[KEPT].to_numpy(float)
    qini = qini_coefficient(score, contacted, kept, seed=seed)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(bootstrap):
        pick = rng.integers(0, score.size, score.size)
        if contacted[pick].any() and not contacted[pick].all():
            draws.append(qini_coefficient(score[pick], contacted[pick], kept[pick], seed=seed))
    low, high = np.quantile(draws, [0.025, 0.975]) if draws else (np.nan, np.nan)
    return UpliftEvaluation(
        action=action,
        split=split.isoformat(),
        train_rows=model.rows,
        test_rows={"contacted": int(contacted.sum()), "held_out": int((~contacted).sum())},
        qini=qini,
        qini_low=float(low),
        qini_high=float(high),
        uplift_at={share: uplift_at(score, contacted, kept, share, seed=seed) for share in TOP_SHARES},
        effect=float(kept[contacted].mean() - kept[~contacted].mean()),
        curve=curve_points(score, contacted, kept, seed=seed),
    )


CURVE_STEPS = 20
"""The report's Qini chart has a point every 100 / CURVE_STEPS % of the rows targeted."""


def curve_points(score: np.ndarray, contacted: np.ndarray, outcome: np.ndarray, *, seed: int = 0) -> list[float]:
    """Q(t) / n at t = 0, n / CURVE_STEPS, ..., n (the Qini curve for a chart)."""
    q = qini_curve(score, contacted, outcome, seed=seed)
    n = q.size - 1
    at = np.round(np.linspace(0, n, CURVE_STEPS + 1)).astype(int)
    return [float(q[i] / max(n, 1)) for i in at]


# --------------------------------------------------------------------------------------------------
# What is known of the actions, as one unit the scoring reads


@dataclass
class MeasuredActions:
    """The actions' uplift models in force with what the scoring needs beside them.

    `models` holds only the actions whose uplift beat random targeting out of time (refitted on every row
    since); `segments` the segments each was measured in with enough rows (an action is proposed by its
    measured effect only to partners of those segments: the log says nothing of the others);
    `revenue_if_kept` the mean horizon revenue of the contacted partners who had no revenue of their own at the
    action and stayed active, per action and segment with enough of them (the revenue at stake of a partner
    with none yet, e.g. a Sleeper; a segment without such rows has none, and such partners are not proposed
    the action);
    `effects` the effects table and `evaluations` the out-of-time judgement of every action tried, for
    the report.
    """

    models: dict[str, ActionUplift]
    segments: dict[str, list[str]]
    revenue_if_kept: dict[str, dict[str, float]]
    effects: pd.DataFrame
    evaluations: list[dict[str, Any]]
    measured_through: str
    """The latest action whose outcome the effects and models saw (ISO UTC)."""

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        actions = sorted(self.models)
        for i, action in enumerate(actions):  # folders by position: an action code is a log's text, not a path
            self.models[action].save(folder / "actions" / str(i))
        self.effects.to_csv(folder / "effects.csv", index=False)
        meta = {
            "actions": actions,
            "segments": self.segments,
            "revenue_if_kept": self.revenue_if_kept,
            "evaluations": self.evaluations,
            "measured_through": self.measured_through,
        }
        (folder / "measured_actions.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> MeasuredActions:
        try:
            meta = json.loads((folder / "measured_actions.json").read_text(encoding="utf-8"))
            models = {action: ActionUplift.load(folder / "actions" / str(i)) for i, action in enumerate(meta["actions"])}
            effects = pd.read_csv(folder / "effects.csv", keep_default_na=True)
        except (OSError, KeyError, ValueError, lgb.basic.LightGBMError) as exc:
            raise InputError(f"the measured actions in {folder} cannot be read ({type(exc).__name__}: {exc})") from None
        return cls(
            models=models,
            segments={k: list(v) for k, v in meta["segments"].items()},
            revenue_if_kept={k: {s: float(x) for s, x in v.items()} for k, v in meta["revenue_if_kept"].items()},
            effects=effects,
            evaluations=list(meta["evaluations"]),
            measured_through=str(meta["measured_through"]),
        )
