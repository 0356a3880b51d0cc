"""Datasets -> fit -> calibrate -> backtest, for both models, as one pure step on the loaded program.

Logging to MLflow, registering and the promotion gate live in `training/registry.py`; the CLI chains
them. Nothing here touches the disk except reading the generator's latent truth when it is present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features.contract import Program
from features.pipeline import program_context
from features.schema import feature_schema, learnable_features
from partner_churn.config import Config
from partner_churn.domain import LABEL_OF, TARGETS, Target
from partner_churn.errors import InputError
from features.schema import SALE
from training.backtest import backtest_table, baseline_scores, headline
from training.btyd import BTYDBaseline, purchase_summary
from training.datasets import CLOSE_CUTOFF_DAYS, SPLITS, CutoffPlan, build_dataset, configured_plan_days, cutoff_grid, fit_plan, plan_cutoffs, too_short_advice
from training.model import calibration_method_for, fit_model, rows_for
from training.result import TrainingResult

GATE_BASELINE: dict[Target, tuple[str, ...]] = {
    "deactivation_risk": ("recency_rule", "btyd"),
    "upgrade_potential": ("logistic_rfm", "revenue_momentum"),
}


def train_and_backtest(
    program: Program,
    config: Config,
    *,
    latent_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Build rolling-origin datasets, fit and calibrate both models, backtest them against baselines."""
    say = progress or (lambda message: None)
    partners, events = program.partners, program.events
    if not len(events):
        raise InputError("no events: nothing to learn from")
    data_start, data_end = partners["signup_at"].min(), events["ts"].max()
    plan, dataset = _plan_and_dataset(partners, events, data_start, data_end, config)
    say(plan.describe())
    say(f"dataset: {len(dataset):,} partner-cutoff rows")
    schema = feature_schema(config)
    seen = sorted(str(t) for t, n in events["event_type"].value_counts().items() if n > 0)
    learnable = learnable_features(schema, seen)
    left_out = sorted({t for spec in schema if spec not in learnable for t in spec.event_types} - set(seen))
    if left_out:
        say(f"features: {len(learnable)} of {len(schema)}; the data has no {', '.join(left_out)} events, so their features are left out")
    oracle = _oracle_scores(latent_path, plan.backtest, config) if latent_path is not None else None

    models, predictions, backtest_rows, not_trained = {}, [], {}, {}
    for target in TARGETS:
        rows = rows_for(target, dataset)
        split = {name: rows[rows["split"] == name] for name in ("train", "validation", "calibration", "backtest")}
        problem = _too_few_labels(target, split, config)
        if problem:
            not_trained[target] = problem
            say(f"{target}: not trained: {problem}")
            continue
        say(f"{target}: fitting on {len(split['train']):,} rows")
        chosen = calibration_method_for(split["calibration"][LABEL_OF[target]].to_numpy(float), config.training.calibration)
        if chosen != config.training.calibration:
            say(f"{target}: calibration sigmoid (too few calibration labels for isotonic's step function)")
        model = fit_model(
            target, split["train"], split["validation"], split["calibration"], learnable, config.training.lightgbm,
            calibration_method=config.training.calibration, seed=config.training.seed,
        )
        model.trained_through = (split["train"]["as_of"].max() + pd.Timedelta(days=config.labels.horizon_days)).isoformat()
        models[target] = model
        test = split["backtest"]
        scores = {"model": model.predict(test), **baseline_scores(target, split["train"], test, config)}
        if target == "deactivation_risk":
            btyd = _btyd_scores(partners, events, split["train"], test, config, say)
            if btyd is not None:
                scores["btyd"] = btyd
        frame = pd.DataFrame(
            {
                "target": target,
                "as_of": test["as_of"].to_numpy(),
                "partner_id": test["partner_id"].to_numpy(),
                "segment": test["segment"].to_numpy(),
                "label": test[LABEL_OF[target]].to_numpy(int),
                "revenue_next_horizon": test["revenue_next_horizon"].to_numpy(float),
                **scores,
            }
        )
        if oracle is not None and target == "deactivation_risk":
            frame = frame.merge(oracle, on=["as_of", "partner_id"], how="left")
        predictions.append(frame)
        backtest_rows[target] = test
        say(f"{target}: best iteration {model.best_iteration}, calibration {model.calibrator.method}")
    if not models:
        raise InputError("no model can be trained: " + "; ".join(f"{t}: {p}" for t, p in not_trained.items()))

    end = data_end.normalize() + pd.Timedelta(days=1)
    snapshot = program_context(partners, events, [end], config).snapshot(end)
    for model in models.values():
        model.program = snapshot
    predictions_frame = pd.concat(predictions, ignore_index=True)
    scorers = ["model", "recency_rule", "logistic_rfm", "btyd", "revenue_momentum", "oracle"]
    table = backtest_table(predictions_frame, scorers)
    reference = _reference_sample(dataset[dataset["split"] == "train"], models, config)
    return TrainingResult(
        config=config,
        fingerprint=fingerprint(program, plan.all()),
        schema=schema,
        models=models,
        backtest=table,
        predictions=predictions_frame,
        backtest_rows=backtest_rows,
        reference_sample=reference,
        primary_baseline_auc={t: _best(headline(table, t, s) for s in GATE_BASELINE[t]) for t in models},
        model_auc={t: headline(table, t, "model") for t in models},
        not_trained=not_trained,
    )


def _plan_and_dataset(
    partners: pd.DataFrame, events: pd.DataFrame, data_start: pd.Timestamp, data_end: pd.Timestamp, config: Config
) -> tuple[CutoffPlan, pd.DataFrame]:
    """The configured cutoff plan and its rows; where the history is too short for it, or its splits hold
    too few deactivation labels, a plan fitted to the data (closer cutoffs, more of them per split, the
    smallest sound embargo; see `fit_plan`), said in `CutoffPlan.adapted`."""
    try:
        plan = plan_cutoffs(data_start, data_end, config)
    except InputError:
        days = (data_end - data_start).days
        plan, reason = None, f"a {days}-day history, the configured plan needs about {configured_plan_days(config)}"
    if plan is not None:
        dataset = build_dataset(partners, events, plan, config, data_end=data_end)
        rows = rows_for("deactivation_risk", dataset)
        reason = _too_few_labels("deactivation_risk", {name: rows[rows["split"] == name] for name in SPLITS}, config)
        if not reason:
            return plan, dataset
        reason = "the configured plan's splits hold too few deactivation labels"
    grid = cutoff_grid(data_start, data_end, min(config.training.cutoff_frequency_days, CLOSE_CUTOFF_DAYS), config)
    if len(grid) < 2:
        raise InputError(f"too little data for a rolling-origin plan ({reason}): {too_short_advice(data_start, data_end, config)}")
    everything = build_dataset(partners, events, CutoffPlan(train=grid, validation=[], calibration=[], backtest=[]), config, data_end=data_end)
    rows = rows_for("deactivation_risk", everything)
    label = LABEL_OF["deactivation_risk"]
    counts = rows.groupby("as_of")[label].agg(positives="sum", negatives=lambda v: int((v == 0).sum())).reset_index()
    plan = fit_plan(grid, counts, config, label=label, reason=reason, span=(data_start, data_end))
    dataset = everything[everything["as_of"].isin(plan.all())].copy()
    dataset["split"] = dataset["as_of"].map(plan.split_of())
    return plan, dataset.reset_index(drop=True)


def _best(values: Iterable[float]) -> float:
    """The highest of the baselines' figures that exist (a baseline that could not be fitted is NaN)."""
    found = [v for v in values if np.isfinite(v)]
    return max(found) if found else float("nan")


def _btyd_scores(
    partners: pd.DataFrame, events: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, config: Config, say: Callable[[str], None]
) -> np.ndarray | None:
    """The BG/NBD baseline's P(no sale in the horizon) for the backtest rows, fitted on the training rows;
    None (said) when the program has no sales to fit it on."""
    signup = partners.set_index("partner_id")["signup_at"]

    def summary(rows: pd.DataFrame) -> pd.DataFrame:
        requested = pd.DataFrame({"partner_id": rows["partner_id"].to_numpy(), "as_of": rows["as_of"].to_numpy()})
        requested["signup_at"] = requested["partner_id"].map(signup).to_numpy()
        return purchase_summary(events, requested, purchase_types=(SALE,))

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
    counts = {name: (int(rows[label].sum()) if len(rows) else 0, len(rows) - (int(rows[label].sum()) if len(rows) else 0)) for name, rows in split.items()}
    short = {name: c for name, c in counts.items() if min(c) < minimum}
    if not short:
        return ""
    name, (positives, negatives) = min(short.items(), key=lambda item: min(item[1]))
    workable = min(min(c) for c in counts.values())
    plan_note = "" if target == "upgrade_potential" else " (and may change the cutoff plan)"
    advice = (
        f"--set training.{key}={workable} would train it{plan_note}; fewer labels make early stopping, calibration and "
        "the backtest noisier"
        if workable > 0
        else "a split has no label of one class: use more partners or a longer history"
    )
    return (
        f"the {name} split has {positives} positive and {negatives} negative '{label}' labels; at least "
        f"{minimum} of each are needed (training.{key}): {advice}"
    )


def _oracle_scores(latent_path: Path, cutoffs: list[pd.Timestamp], config: Config) -> pd.DataFrame | None:
    """The generator's oracle deactivation risk at the backtest cutoffs, when the data is generated."""
    from synthetic.oracle import oracle_deactivation_risk

    if not latent_path.is_file():
        return None
    days = [(c - pd.Timedelta(days=1)).date() for c in cutoffs]
    latent = pq.read_table(latent_path, filters=[("date", "in", days)]).to_pandas()
    frames = []
    for cutoff in cutoffs:
        risk = oracle_deactivation_risk(latent, cutoff, config.labels.horizon_days)
        frames.append(pd.DataFrame({"as_of": cutoff, "partner_id": risk.index.to_numpy(), "oracle": risk.to_numpy()}))
    oracle = pd.concat(frames, ignore_index=True)
    oracle["as_of"] = pd.to_datetime(oracle["as_of"], utc=True)
    return oracle


def _reference_sample(train: pd.DataFrame, models: dict, config: Config) -> pd.DataFrame:
    """Training-period features and model scores, sampled, for drift monitoring."""
    n = min(config.monitoring.sample_size, len(train))
    sample = train.sample(n=n, random_state=config.monitoring.seed) if n < len(train) else train.copy()
    for target, model in models.items():
        sample[target] = model.predict(sample)
    return sample.reset_index(drop=True)


def fingerprint(program: Program, cutoffs: list[pd.Timestamp]) -> dict[str, object]:
    """Row counts, date range and a content hash of the input, so a run names the data it saw."""
    events = program.events
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(program.partners[["partner_id", "signup_at"]], index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(events[["partner_id", "ts", "event_type", "amount"]], index=False).to_numpy().tobytes())
    return {
        "partners": len(program.partners),
        "events": len(events),
        "first_event": str(events["ts"].min()),
        "last_event": str(events["ts"].max()),
        "cutoffs": [str(c.date()) for c in cutoffs],
        "sha256": digest.hexdigest(),
        "events_by_type": {str(k): int(v) for k, v in events["event_type"].value_counts().items()},
        "actions": 0 if program.actions is None else len(program.actions),
        "hash_of": "pandas row hashes of partners(partner_id, signup_at) and events(partner_id, ts, event_type, amount)",
    }
