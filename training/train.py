"""Datasets -> fit -> calibrate -> backtest, for both models, as one pure step on the loaded program.

Logging to MLflow, registering and the promotion gate live in `training/registry.py`; the CLI chains
them. Nothing here touches the disk except reading the generator's latent truth when it is present.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features.contract import Program
from features.pipeline import program_context
from features.schema import feature_schema
from partner_churn.config import Config
from partner_churn.errors import InputError
from training.backtest import backtest_table, baseline_scores, headline
from training.datasets import build_dataset, plan_cutoffs
from training.model import LABEL_OF, Target, fit_model, rows_for
from training.result import TrainingResult

TARGETS: tuple[Target, ...] = ("deactivation_risk", "upgrade_potential")
GATE_BASELINE: dict[Target, tuple[str, ...]] = {
    "deactivation_risk": ("recency_rule",),
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
    plan = plan_cutoffs(data_start, data_end, config)
    say(f"cutoffs: {len(plan.train)} train, {len(plan.validation)} validation, {len(plan.calibration)} calibration, "
        f"{len(plan.backtest)} backtest ({plan.train[0]:%Y-%m-%d} .. {plan.backtest[-1]:%Y-%m-%d})")
    dataset = build_dataset(partners, events, plan, config, data_end=data_end)
    say(f"dataset: {len(dataset):,} partner-cutoff rows")
    schema = feature_schema(config)
    oracle = _oracle_scores(latent_path, plan.backtest, config) if latent_path is not None else None

    models, predictions, backtest_rows = {}, [], {}
    for target in TARGETS:
        rows = rows_for(target, dataset)
        split = {name: rows[rows["split"] == name] for name in ("train", "validation", "calibration", "backtest")}
        _check_positives(target, split, config)
        say(f"{target}: fitting on {len(split['train']):,} rows")
        model = fit_model(
            target, split["train"], split["validation"], split["calibration"], schema, config.training.lightgbm,
            calibration_method=config.training.calibration, seed=config.training.seed,
        )
        models[target] = model
        test = split["backtest"]
        scores = {"model": model.predict(test), **baseline_scores(target, split["train"], test, config.training.seed)}
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

    end = data_end.normalize() + pd.Timedelta(days=1)
    snapshot = program_context(partners, events, [end], config).snapshot(end)
    for model in models.values():
        model.program = snapshot
    predictions_frame = pd.concat(predictions, ignore_index=True)
    scorers = ["model", "recency_rule", "logistic_rfm", "revenue_momentum", "oracle"]
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
        primary_baseline_auc={t: max(headline(table, t, s) for s in GATE_BASELINE[t]) for t in TARGETS},
        model_auc={t: headline(table, t, "model") for t in TARGETS},
    )


def _check_positives(target: Target, split: dict[str, pd.DataFrame], config: Config) -> None:
    label = LABEL_OF[target]
    for name, rows in split.items():
        positives = int(rows[label].sum()) if len(rows) else 0
        negatives = len(rows) - positives
        if min(positives, negatives) < config.training.min_positive_labels:
            raise InputError(
                f"{target}: the {name} split has {positives} positive and {negatives} negative '{label}' labels; "
                f"at least {config.training.min_positive_labels} of each are needed (training.min_positive_labels): "
                "use more partners or a longer history"
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
