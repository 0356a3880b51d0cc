"""Rolling-origin folds of the whole procedure, then the final refit, for both models: one pure step on the
loaded program.

At each fold's origin the procedure (fit with early stopping on its own validation cutoffs, calibration on
its own calibration cutoffs, embargoes between them) is refitted on rows before that origin and judged on
the origin's labels, next to every baseline fitted on the same training rows. The folds' figures describe
the procedure; the deployed model is its final refit on the newest cutoffs, whose last label ends at the end
of the data. Nothing is left after that refit to stop or calibrate on, so the folds choose both: the refit
boosts for the median of the folds' best iterations, and its calibrator is fitted on the folds' out-of-fold
scores (each fold's uncalibrated score on its own test rows, pooled), as scikit-learn's
`CalibratedClassifierCV(ensemble=False)` does.

Logging to MLflow, registering and the promotion gate live in `training/registry/`; the CLI chains
them. Nothing here touches the disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from features.contract import Program
from features.schema import SURVEYS, FeatureSpec, feature_schema, learnable_features
from features.segments import crosses_tenure_threshold
from partner_churn.config import Config
from partner_churn.domain import LABEL_OF, TARGETS, Target
from partner_churn.errors import InputError
from training.backtest import TENURE_CROSSING, backtest_table, baseline_scores, gate_baseline, headline
from training.btyd import BTYDBaseline
from training.datasets import (
    BTYD_SUMMARY,
    CLOSE_CUTOFF_DAYS,
    SPLITS,
    CutoffPlan,
    Fold,
    configured_plan_days,
    cutoff_grid,
    fit_plan,
    plan_cutoffs,
    too_short_advice,
)
from training.model import TrainedModel, calibration_method_for, fit_calibrator, fit_model, refit_model, rows_for
from training.result import TrainingResult
from training.source import HASHED_COLUMNS, ProgramOutline, TrainingSource, local_source, sample_share

SCORERS = ["model", "recency_rule", "logistic_rfm", "btyd", "revenue_momentum", "oracle"]
"""Every scorer the backtest table may hold, the model first."""
OracleScores = Callable[[list[pd.Timestamp]], "pd.DataFrame | None"]
"""The generator's oracle risk at given cutoffs (columns as_of, partner_id, oracle), or None when there is no
latent truth: what the caller passes on generated data (`synthetic.oracle.oracle_scores`). Training never
imports the generator; its truth arrives as data."""


def train_and_backtest(
    program: Program,
    config: Config,
    *,
    oracle: OracleScores | None = None,
    progress: Callable[[str], None] | None = None,
    refit: bool = True,
) -> TrainingResult:
    """`train_from` the program in memory (the local engine)."""
    return train_from(local_source(program), config, oracle=oracle, progress=progress, refit=refit)


def train_from(
    source: TrainingSource,
    config: Config,
    *,
    oracle: OracleScores | None = None,
    progress: Callable[[str], None] | None = None,
    refit: bool = True,
) -> TrainingResult:
    """Fold by fold, refit and judge the procedure against the baselines; then (with `refit`) the final refit
    of each model. Without `refit` only the procedure is judged (what the gate re-runs for a champion).
    `oracle` (on generated data) gives the generator's own risk at the backtest cutoffs, judged beside them.
    `source` gives the program's outline and rows, on this process or on a cluster (`training.source`)."""
    say = progress or (lambda message: None)
    outline = source.outline
    if not outline.events or outline.first_signup is None or outline.last_event is None:
        raise InputError("no events: nothing to learn from")
    data_start, data_end = outline.first_signup, outline.last_event
    if (share := sample_share(outline, config)) < 1.0:
        say(
            f"sample: the rows of about {share:.1%} of the {outline.partners:,} partners (training.max_partners={config.training.max_partners:,}), chosen by id"
        )
    plan, dataset = _plan_and_dataset(source, data_start, data_end, config)
    say(plan.describe())
    say(f"dataset: {len(dataset):,} partner-cutoff rows")
    schema = feature_schema(config)
    seen = sorted(outline.events_by_type)
    seen += [SURVEYS] if outline.survey_answers else []
    learnable = learnable_features(schema, seen)
    left_out = sorted({t for spec in schema if spec not in learnable for t in spec.event_types} - set(seen))
    if left_out:
        types = [t for t in left_out if t != SURVEYS]
        said = ([f"no {', '.join(types)} events"] if types else []) + (["no survey answers"] if SURVEYS in left_out else [])
        say(f"features: {len(learnable)} of {len(schema)}; the data has {' and '.join(said)}, so their features are left out")
    tests = [c for fold in plan.folds for c in fold.test]
    oracle_frame = oracle(tests) if oracle is not None else None
    say_once = _once(say)

    models, predictions, test_rows, not_trained = {}, [], {}, {}
    for target in TARGETS:
        rows = rows_for(target, dataset)
        problem = _fold_problem(target, rows, plan, config)
        if problem:
            not_trained[target] = problem
            say(f"{target}: not trained: {problem}")
            continue
        frames, raw_scores, fold_models, tested = [], [], [], []
        for number, fold in enumerate(plan.folds, start=1):
            split = _splits(rows, fold)
            chosen = calibration_method_for(split["calibration"][LABEL_OF[target]].to_numpy(float), config.training.calibration)
            if chosen != config.training.calibration:
                say_once(f"{target}: calibration sigmoid (too few calibration labels for isotonic's step function)")
            model = fit_model(
                target,
                split["train"],
                split["validation"],
                split["calibration"],
                learnable,
                config.training.lightgbm,
                calibration_method=config.training.calibration,
                seed=config.training.seed,
            )
            frames.append(_fold_predictions(target, number, fold, model, split, config, say_once, oracle_frame))
            raw_scores.append(model.raw_probability(split["test"]))
            fold_models.append(model)
            tested.append(split["test"])
        predictions.append(pd.concat(frames, ignore_index=True))
        test_rows[target] = pd.concat(tested, ignore_index=True)
        say(f"{target}: {len(plan.folds)} folds, best iterations {', '.join(str(m.best_iteration) for m in fold_models)}")
        if refit:
            labels = np.concatenate([frame["label"].to_numpy(float) for frame in frames])
            model = _final_refit(
                target, rows[rows["as_of"].isin(plan.final_train)], fold_models, np.concatenate(raw_scores), labels, learnable, config
            )
            model.trained_through = (max(plan.final_train) + pd.Timedelta(days=config.labels.horizon_days)).isoformat()
            models[target] = model
            say(f"{target}: final refit on {len(plan.final_train)} cutoffs, {model.best_iteration} rounds, calibration {model.calibrator.method}")
    if not predictions:
        raise InputError("no model can be trained: " + "; ".join(f"{t}: {p}" for t, p in not_trained.items()))

    if models:
        end = data_end.normalize() + pd.Timedelta(days=1)
        snapshot = source.context_at([end], config).snapshot(end)
        for model in models.values():
            model.program = snapshot
    predictions_frame = pd.concat(predictions, ignore_index=True)
    table = backtest_table(predictions_frame, SCORERS)
    trained = list(test_rows)
    reference = _reference_sample(dataset[dataset["as_of"].isin(plan.final_train)], models, config) if models else pd.DataFrame()
    return TrainingResult(
        config=config,
        fingerprint=fingerprint(outline, plan.all()),
        schema=schema,
        models=models,
        backtest=table,
        predictions=predictions_frame,
        backtest_rows=test_rows,
        reference_sample=reference,
        primary_baseline_auc={t: gate_baseline(table, t)[1] for t in trained},
        model_auc={t: headline(table, t, "model") for t in trained},
        not_trained=not_trained,
        plan=plan,
    )


def _splits(rows: pd.DataFrame, fold: Fold) -> dict[str, pd.DataFrame]:
    """A fold's rows per split, picked by cutoff."""
    return {name: rows[rows["as_of"].isin(getattr(fold, name))] for name in SPLITS}


def _fold_problem(target: Target, rows: pd.DataFrame, plan: CutoffPlan, config: Config) -> str:
    """Why a target cannot be trained on this plan ('' when it can): the first fold with too few labels."""
    for number, fold in enumerate(plan.folds, start=1):
        problem = _too_few_labels(target, _splits(rows, fold), config)
        if problem:
            return f"fold {number} of {len(plan.folds)} (origin {fold.origin:%Y-%m-%d}): {problem}"
    return ""


def _fold_predictions(
    target: Target,
    number: int,
    fold: Fold,
    model: TrainedModel,
    split: dict[str, pd.DataFrame],
    config: Config,
    say: Callable[[str], None],
    oracle: pd.DataFrame | None,
) -> pd.DataFrame:
    """The fold's test rows with their label and every scorer's score (baselines fitted on the fold's train rows)."""
    train, test = split["train"], split["test"]
    scores = {"model": model.predict(test), **baseline_scores(target, train, test, config)}
    if target == "deactivation_risk":
        btyd = _btyd_scores(train, test, config, say)
        if btyd is not None:
            scores["btyd"] = btyd
    frame = pd.DataFrame(
        {
            "target": target,
            "fold": number,
            "origin": str(fold.origin.date()),
            "as_of": test["as_of"].to_numpy(),
            "partner_id": test["partner_id"].to_numpy(),
            "segment": test["segment"].to_numpy(),
            "label": test[LABEL_OF[target]].to_numpy(int),
            "revenue_next_horizon": test["revenue_next_horizon"].to_numpy(float),
            TENURE_CROSSING: crosses_tenure_threshold(test["tenure_days"].to_numpy(float), config.labels.horizon_days, config.segments),
            **scores,
        }
    )
    if oracle is not None and target == "deactivation_risk":
        frame = frame.merge(oracle, on=["as_of", "partner_id"], how="left")
    return frame


def _final_refit(
    target: Target,
    train: pd.DataFrame,
    fold_models: list[TrainedModel],
    out_of_fold: np.ndarray,
    labels: np.ndarray,
    learnable: list[FeatureSpec],
    config: Config,
) -> TrainedModel:
    """The deployed model: the newest cutoffs, the folds' median best iteration, a calibrator fitted on the
    folds' out-of-fold (uncalibrated) scores."""
    best = [model.best_iteration for model in fold_models]
    rounds = max(1, int(round(float(np.median(best)))))
    calibrator = fit_calibrator(out_of_fold, labels, config.training.calibration, config.training.seed)
    model = refit_model(target, train, learnable, config.training.lightgbm, rounds=rounds, calibrator=calibrator, seed=config.training.seed)
    model.validated_by = {
        "folds": len(fold_models),
        "fold_best_iterations": best,
        "rounds": rounds,
        "rounds_from": "median of the folds' best iterations (early stopping on each fold's validation cutoffs)",
        "calibration": calibrator.method,
        "calibrated_on": "the folds' out-of-fold scores: each fold's uncalibrated score on its own test rows, pooled",
        "calibration_rows": int(labels.size),
        "calibration_positives": int(labels.sum()),
    }
    return model


def _once(say: Callable[[str], None]) -> Callable[[str], None]:
    """`say`, but each distinct message only once (the folds repeat what they notice)."""
    said: set[str] = set()

    def once(message: str) -> None:
        if message not in said:
            said.add(message)
            say(message)

    return once


def _plan_and_dataset(source: TrainingSource, data_start: pd.Timestamp, data_end: pd.Timestamp, config: Config) -> tuple[CutoffPlan, pd.DataFrame]:
    """The configured plan and its rows; where the history is too short for it, or its folds hold too few
    deactivation labels, a plan fitted to the data (closer cutoffs, test blocks and splits grown to hold
    enough labels, the smallest sound embargo; see `fit_plan`), said in `CutoffPlan.adapted`. Features are
    computed once for every cutoff and shared by the folds and the final refit."""
    try:
        plan = plan_cutoffs(data_start, data_end, config)
    except InputError:
        days = (data_end - data_start).days
        plan, reason = None, f"a {days}-day history, the configured plan needs about {configured_plan_days(config)}"
    if plan is not None:
        dataset = source.dataset_at(plan.all(), config)
        reason = _fold_problem("deactivation_risk", rows_for("deactivation_risk", dataset), plan, config)
        if not reason:
            return plan, dataset
        reason = "the configured plan's folds hold too few deactivation labels"
    grid = cutoff_grid(data_start, data_end, min(config.training.cutoff_frequency_days, CLOSE_CUTOFF_DAYS), config)
    if len(grid) < 2:
        raise InputError(f"too little data for a rolling-origin plan ({reason}): {too_short_advice(data_start, data_end, config)}")
    everything = source.dataset_at(grid, config)
    rows = rows_for("deactivation_risk", everything)
    label = LABEL_OF["deactivation_risk"]
    counts = rows.groupby("as_of")[label].agg(positives="sum", negatives=lambda v: int((v == 0).sum())).reset_index()
    plan = fit_plan(grid, counts, config, label=label, reason=reason, span=(data_start, data_end))
    return plan, everything[everything["as_of"].isin(plan.all())].reset_index(drop=True)


def _btyd_scores(train: pd.DataFrame, test: pd.DataFrame, config: Config, say: Callable[[str], None]) -> np.ndarray | None:
    """The BG/NBD baseline's P(no sale in the horizon) for the backtest rows, fitted on the training rows (their
    purchase summaries ride in the dataset); None (said) when the program has no sales to fit it on."""

    def summary(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[list(BTYD_SUMMARY.values())].set_axis(list(BTYD_SUMMARY), axis=1).reset_index(drop=True)

    try:
        model = BTYDBaseline().fit(summary(train))
    except InputError as exc:
        say(f"btyd baseline: not fitted: {exc}")
        return None
    return model.predict_no_purchase(summary(test), config.labels.horizon_days)


def _too_few_labels(target: Target, split: dict[str, pd.DataFrame], config: Config) -> str:
    """Why a target cannot be trained on these splits ('' when it can): too few of either label somewhere,
    with the `--set` that would train it on the same plan."""
    label = LABEL_OF[target]
    key = "min_positive_labels" if target == "deactivation_risk" else "min_upgrade_labels"
    minimum = getattr(config.training, key)
    counts = {
        name: (int(rows[label].sum()) if len(rows) else 0, len(rows) - (int(rows[label].sum()) if len(rows) else 0)) for name, rows in split.items()
    }
    short = {name: c for name, c in counts.items() if min(c) < minimum}
    if not short:
        return ""
    name, (positives, negatives) = min(short.items(), key=lambda item: min(item[1]))
    workable = min(min(c) for c in counts.values())
    plan_note = "" if target == "upgrade_potential" else " (and may change the cutoff plan)"
    advice = (
        f"--set training.{key}={workable} would train it{plan_note}; fewer labels make early stopping, calibration and the backtest noisier"
        if workable > 0
        else "a split has no label of one class: use more partners or a longer history"
    )
    return (
        f"the {name} split has {positives} positive and {negatives} negative '{label}' labels; at least "
        f"{minimum} of each are needed (training.{key}): {advice}"
    )


def _reference_sample(train: pd.DataFrame, models: dict, config: Config) -> pd.DataFrame:
    """The deployed models' training features and scores, sampled, for drift monitoring."""
    n = min(config.monitoring.sample_size, len(train))
    sample = train.sample(n=n, random_state=config.monitoring.seed) if n < len(train) else train.copy()
    for target, model in models.items():
        sample[target] = model.predict(sample)
    return sample.reset_index(drop=True)


def fingerprint(outline: ProgramOutline, cutoffs: list[pd.Timestamp]) -> dict[str, object]:
    """Row counts, date range and a content hash of the input, so a run names the data it saw (the same on either
    engine and for any partitioning of the same rows)."""
    digest = hashlib.sha256()
    for table in HASHED_COLUMNS:
        digest.update(outline.row_hash_sums[table].to_bytes(8, "little"))
    digest.update(f"{outline.partners}:{outline.events}".encode())
    return {
        "partners": outline.partners,
        "events": outline.events,
        "first_event": str(outline.first_event),
        "last_event": str(outline.last_event),
        "cutoffs": [str(c.date()) for c in cutoffs],
        "sha256": digest.hexdigest(),
        "events_by_type": outline.events_by_type,
        "actions": outline.actions,
        "hash_of": "the sums (mod 2**64) of pandas row hashes of partners(partner_id, signup_at) and events(partner_id, ts, event_type, amount), "
        "with the row counts: independent of row order and partitioning",
    }
