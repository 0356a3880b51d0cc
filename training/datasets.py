"""Rolling-origin plans: folds that refit the whole procedure at each origin, and the final refit.

A fold is the procedure as it runs in production, laid back from one origin: train < validation (early
stopping) < calibration < test (the origin's cutoffs, where the fold is judged). Between two of its splits
lies an embargo of at least the horizon H, so no label of an earlier split (which looks at [t, t + H))
overlaps the period a later split is judged on. Fold k's test cutoffs come just before fold k+1's: the
newest fold is judged at the last cutoff whose horizon has been observed, each older fold one step (or one
test block) earlier. After the folds, the final refit trains on the newest cutoffs, up to the last one, so
the deployed model's newest label ends at the end of the data (`training/train.py` says how its rounds and
calibrator come from the folds). All cutoffs are UTC midnights, `training.cutoff_frequency_days` apart, and
only cutoffs whose horizon has been observed (t + H <= end of data) are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline import ProgramContext, build_features, build_labels
from features.schema import SALE
from partner_churn.config import Config
from partner_churn.errors import InputError
from training.btyd import purchase_summary

SPLITS = ("train", "validation", "calibration", "test")
"""The splits of one fold, oldest first."""
MIN_HISTORY_DAYS = 60
"""The first cutoff lies at least this long after the first sign-up, so features have a history."""
CLOSE_CUTOFF_DAYS = 7
"""The closest cutoffs a short history falls back to: a week apart (a week of behaviour per step)."""
SMALLEST_PLAN = {"train": 2, "validation": 1, "calibration": 1, "test": 1}
"""The fewest cutoffs per split that still make a fold."""


@dataclass(frozen=True)
class Fold:
    """One refit of the procedure: its cutoffs per split, oldest first."""

    train: list[pd.Timestamp]
    validation: list[pd.Timestamp]
    calibration: list[pd.Timestamp]
    test: list[pd.Timestamp]

    @property
    def origin(self) -> pd.Timestamp:
        """The fold's first test cutoff: everything it learns from ends (labels included) by then."""
        return self.test[0]

    def all(self) -> list[pd.Timestamp]:
        return [c for name in SPLITS for c in getattr(self, name)]


@dataclass(frozen=True)
class CutoffPlan:
    """The folds, oldest first; the final refit's training cutoffs; how the plan was fitted to the data."""

    folds: list[Fold]
    final_train: list[pd.Timestamp]
    """Cutoffs the deployed model trains on: the newest, ending at the last cutoff whose horizon is observed."""
    adapted: str = ""
    """Empty for the configured plan; else, in words, what was changed to fit a short or small program."""

    def all(self) -> list[pd.Timestamp]:
        """Every cutoff any fold or the final refit uses, oldest first (features are built once for them)."""
        return sorted({c for fold in self.folds for c in fold.all()} | set(self.final_train))

    def describe(self) -> str:
        """One line: folds, the cutoffs per split of the newest fold, the final refit, any adaptation."""
        newest = self.folds[-1]
        counts = ", ".join(f"{len(getattr(newest, name))} {name}" for name in SPLITS)
        origins = ", ".join(f"{fold.origin:%Y-%m-%d}" for fold in self.folds)
        line = (
            f"plan: {len(self.folds)} folds judged at {origins} (each {counts} cutoffs); final refit on "
            f"{len(self.final_train)} cutoffs {self.final_train[0]:%Y-%m-%d} .. {self.final_train[-1]:%Y-%m-%d}"
        )
        return f"{line}; {self.adapted}" if self.adapted else line


def plan_cutoffs(data_start: pd.Timestamp, data_end: pd.Timestamp, config: Config) -> CutoffPlan:
    """The configured plan: `training.backtest_folds` folds judged at the newest grid cutoffs, one step apart,
    each laid back from its origin; an InputError saying how long a history it needs when the data is
    shorter (see `fit_plan` for the adaptive one)."""
    t = config.training
    counts = {"train": t.train_cutoffs, "validation": t.validation_cutoffs, "calibration": t.calibration_cutoffs, "test": 1}
    grid = cutoff_grid(data_start, data_end, t.cutoff_frequency_days, config)
    embargo = _embargo_steps(config, t.cutoff_frequency_days)
    laid = [_lay_back(grid[: len(grid) - k], counts, embargo) for k in range(t.backtest_folds)][::-1]
    folds = [fold for fold in laid if fold is not None]
    if not grid or len(folds) < len(laid):
        last = _last_cutoff(data_end, config)
        raise InputError(
            f"the data spans {(data_end - data_start).days} days ({data_start:%Y-%m-%d} .. {data_end:%Y-%m-%d}); "
            f"{t.backtest_folds} folds of {sum(counts.values())} cutoffs every {t.cutoff_frequency_days} days with a "
            f"{config.labels.horizon_days}-day horizon and embargoes need about {configured_plan_days(config)} days (last usable "
            f"cutoff {last:%Y-%m-%d}): lower training.*_cutoffs, training.backtest_folds or training.cutoff_frequency_days"
        )
    return CutoffPlan(folds=folds, final_train=grid[-t.train_cutoffs :])


def configured_plan_days(config: Config) -> int:
    """Days of history the configured plan needs: the oldest fold's cutoffs and embargoes, the steps to the
    newest origin, one horizon, MIN_HISTORY_DAYS."""
    t = config.training
    within_splits = t.train_cutoffs + t.validation_cutoffs + t.calibration_cutoffs - 3
    steps = within_splits + 3 * _embargo_steps(config, t.cutoff_frequency_days) + t.backtest_folds - 1
    return steps * t.cutoff_frequency_days + config.labels.horizon_days + MIN_HISTORY_DAYS


def cutoff_grid(data_start: pd.Timestamp, data_end: pd.Timestamp, every_days: int, config: Config) -> list[pd.Timestamp]:
    """Every candidate cutoff, oldest first: UTC midnights `every_days` apart, back from the last cutoff
    whose horizon is observed to the first that leaves MIN_HISTORY_DAYS of history."""
    last = _last_cutoff(data_end, config)
    first_allowed = (data_start + pd.Timedelta(days=MIN_HISTORY_DAYS)).ceil("D")
    n = int((last - first_allowed).days // every_days) + 1 if last >= first_allowed else 0
    return [last - pd.Timedelta(days=every_days * k) for k in range(n)][::-1]


def smallest_plan_days(horizon_days: int) -> int:
    """Days of history the smallest plan needs: 2 + 1 + 1 + 1 weekly cutoffs, three embargoes, one horizon and
    MIN_HISTORY_DAYS before the first cutoff (202 days for a 30-day horizon)."""
    embargo = int(np.ceil(horizon_days / CLOSE_CUTOFF_DAYS))
    return (SMALLEST_PLAN["train"] - 1 + 3 * embargo) * CLOSE_CUTOFF_DAYS + horizon_days + MIN_HISTORY_DAYS


def too_short_advice(data_start: pd.Timestamp, data_end: pd.Timestamp, config: Config) -> str:
    """What to do about a history too short for any plan: the days needed, and the longest horizon whose own
    cutoff grid holds the smallest plan (labels permitting: with few partners a further bar may bind)."""
    horizon = config.labels.horizon_days
    fitting = None
    for h in range(horizon - 1, 0, -1):
        shorter = config.model_copy(update={"labels": config.labels.model_copy(update={"horizon_days": h})})
        grid = cutoff_grid(data_start, data_end, CLOSE_CUTOFF_DAYS, shorter)
        if _greedy_plan(grid, pd.DataFrame({"as_of": grid, "positives": 0, "negatives": 0}), shorter, 0) is not None:
            fitting = h
            break
    advice = (
        f"; --set labels.horizon_days={fitting} would fit (labels then look {fitting} days ahead)" if fitting else "; no horizon fits this history"
    )
    return (
        f"at least about {smallest_plan_days(horizon)} days of history are needed with a {horizon}-day horizon, the data has "
        f"{(data_end - data_start).days}{advice}"
    )


def fit_plan(
    grid: list[pd.Timestamp],
    labels: pd.DataFrame,
    config: Config,
    *,
    label: str,
    reason: str,
    span: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> CutoffPlan:
    """A plan fitted to a short or small program, on `grid` (cutoffs CLOSE_CUTOFF_DAYS apart at most).

    Folds are laid from the newest cutoff back, each test block just before the next fold's: a fold's test,
    calibration and validation splits each take at least their configured number of cutoffs (test: one) and
    more until they hold `training.min_positive_labels` of each class of `label`; the embargo between splits
    is the smallest whole number of steps that covers the horizon; train takes what is left, at most the
    configured time span. As many folds as fit, up to `training.backtest_folds`; the final refit trains on
    the newest cutoffs over the same span. `labels` holds per-cutoff `as_of`, `positives`, `negatives`. An
    InputError naming the exact `--set` that would work when not even one fold fits.
    """
    minimum = config.training.min_positive_labels
    plan = _greedy_plan(grid, labels, config, minimum)
    if plan is not None:
        every = (grid[1] - grid[0]).days if len(grid) > 1 else CLOSE_CUTOFF_DAYS
        return CutoffPlan(
            plan.folds,
            plan.final_train,
            adapted=f"fitted to the data ({reason}): cutoffs every {every} days, the smallest embargo that covers the horizon",
        )
    workable = _largest_workable_minimum(grid, labels, config, minimum - 1)
    days = (grid[-1] - grid[0]).days if grid else 0
    advice = (
        f"--set training.min_positive_labels={workable} would fit a plan (fewer labels per split: noisier early stopping, calibration and backtest)"
        if workable
        else too_short_advice(*(span or _span_of(grid, config)), config)
    )
    raise InputError(
        f"too little data for a rolling-origin plan ({reason}): {len(grid)} usable cutoffs over {days} days hold "
        f"{int(labels['positives'].sum()) if len(labels) else 0} positive '{label}' labels in all, and each split needs {minimum} "
        f"of each class (training.min_positive_labels); {advice}"
    )


def _span_of(grid: list[pd.Timestamp], config: Config) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The data span a grid implies (its first cutoff less MIN_HISTORY_DAYS, its last plus one horizon)."""
    return grid[0] - pd.Timedelta(days=MIN_HISTORY_DAYS), grid[-1] + pd.Timedelta(days=config.labels.horizon_days)


def _largest_workable_minimum(grid: list[pd.Timestamp], labels: pd.DataFrame, config: Config, upper: int) -> int:
    """The largest training.min_positive_labels <= upper that a plan fits (0: none); a plan that fits a
    minimum fits every smaller one, so this is a bisection."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        if _greedy_plan(grid, labels, config, middle) is not None:
            low = middle
        else:
            high = middle - 1
    return low


def _greedy_plan(grid: list[pd.Timestamp], labels: pd.DataFrame, config: Config, minimum: int) -> CutoffPlan | None:
    """The plan `fit_plan` describes: folds laid greedily from the newest cutoff back, as many as fit up to
    the configured number; None when not even one does."""
    t = config.training
    if len(grid) < 2:
        return None
    every = (grid[1] - grid[0]).days
    embargo = _embargo_steps(config, every)
    by_cutoff = labels.set_index("as_of").reindex(grid).fillna(0)
    positives, negatives = by_cutoff["positives"].to_numpy(), by_cutoff["negatives"].to_numpy()
    max_train = max(SMALLEST_PLAN["train"], round(t.train_cutoffs * t.cutoff_frequency_days / every))
    at_least = {"test": 1, "calibration": t.calibration_cutoffs, "validation": t.validation_cutoffs}

    def enough(start: int, end: int) -> bool:
        return positives[start:end].sum() >= minimum and negatives[start:end].sum() >= minimum

    def lay_fold(end: int) -> Fold | None:
        """The fold whose test ends before position `end`: test, calibration, validation grown back until each
        holds the labels, embargoes between, train what is left (at most `max_train`); None when it does not fit."""
        splits: dict[str, list[pd.Timestamp]] = {}
        for name in ("test", "calibration", "validation"):
            start = end - at_least[name]
            while start >= 0 and not enough(start, end):
                start -= 1
            if start < 0:
                return None
            splits[name] = grid[start:end]
            end = start - embargo + 1
        start = max(0, end - max_train)
        if end < SMALLEST_PLAN["train"] or not enough(start, end):
            return None
        return Fold(train=grid[start:end], **splits)

    folds: list[Fold] = []
    end = len(grid)  # the newest fold's test ends before this position, each older one before the next's test
    while len(folds) < t.backtest_folds and (fold := lay_fold(end)) is not None:
        folds.append(fold)
        end = grid.index(fold.test[0])
    if not folds:
        return None
    return CutoffPlan(folds=folds[::-1], final_train=grid[max(0, len(grid) - max_train) :])


def _lay_back(grid: list[pd.Timestamp], counts: dict[str, int], embargo: int) -> Fold | None:
    """A fold of the configured counts laid back from the newest cutoff of `grid`; None when it is too short."""
    splits: dict[str, list[pd.Timestamp]] = {}
    end = len(grid)
    for name in ("test", "calibration", "validation", "train"):
        start = end - counts[name]
        if start < 0:
            return None
        splits[name] = grid[start:end]
        end = start - embargo + 1
    return Fold(**splits)


def _embargo_steps(config: Config, every_days: int) -> int:
    """Steps between two splits, so no label window of an earlier split reaches a later one."""
    return int(np.ceil(config.labels.horizon_days / every_days))


def _last_cutoff(data_end: pd.Timestamp, config: Config) -> pd.Timestamp:
    return (data_end - pd.Timedelta(days=config.labels.horizon_days)).floor("D")


BTYD_SUMMARY = {"frequency": "btyd_frequency", "recency": "btyd_recency", "T": "btyd_T", "purchased": "btyd_purchased"}
"""The BG/NBD baseline's purchase summary of each row (`training.btyd.purchase_summary`), carried in the dataset so
the baseline needs no events of its own (and a partition's rows carry theirs); not a model feature."""


def build_dataset(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    config: Config,
    *,
    data_end: pd.Timestamp,
    progress: Callable[[int], None] | None = None,
    surveys: pd.DataFrame | None = None,
    program: ProgramContext | None = None,
) -> pd.DataFrame:
    """Features, segment, labels, next-horizon revenue and the BTYD purchase summary (`BTYD_SUMMARY`) for every
    (cutoff, partner); folds pick their rows by `as_of`; `surveys` (the contract's optional table) informs the
    survey features. `program`: the whole program's context at `label_cutoffs(cutoffs)` when these frames are one
    partition of it (rows then equal the whole program's rows of these partners)."""
    features = build_features(partners, events, cutoffs, config, progress=progress, surveys=surveys, program=program)
    labels = build_labels(partners, events, cutoffs, config, data_end=data_end, features=features, program=program)
    dataset = features.merge(
        labels[["partner_id", "as_of", "active", "deactivated", "upgraded", "segment_at_horizon", "revenue_next_horizon"]],
        on=["partner_id", "as_of"],
        how="left",
        validate="one_to_one",
    )
    requested = dataset[["partner_id", "as_of"]].assign(signup_at=dataset["partner_id"].map(partners.set_index("partner_id")["signup_at"]).to_numpy())
    summary = purchase_summary(events, requested, purchase_types=(SALE,))
    for column, name in BTYD_SUMMARY.items():
        dataset[name] = summary[column].to_numpy()
    return dataset
