"""Logging one training run to MLflow: params, artifacts, backtest metrics, plots and each target's pyfunc,
then registering the models (no alias: that is the gate's decision, `training.registry.gate`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from partner_churn import domain
from partner_churn.config import Config, render_yaml
from training import plots
from training.backtest import HEADLINE_POPULATION, MEAN, SPREAD, fold_figures
from training.model import Target, TrainedModel
from training.registry.procedure import config_params, fold_tests, label_definition_id, procedure_id
from training.registry.pyfunc import MODEL_CODE, input_example, pip_requirements, signature
from training.registry.tags import figure_tag
from training.registry.tracking import connect
from training.result import TrainingResult

BACKTEST_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "precision_top10",
    "recall_top10",
    "revenue_share_top10",
)
"""Backtest columns logged as MLflow metrics, `<target>.<scorer>.<metric>` (all cutoffs, all segments)."""


def model_name(config: Config, target: Target | str) -> str:
    """Registered model name of a target (`partner_churn.domain.model_name`)."""
    return domain.model_name(str(target), config)


def log_training_run(result: TrainingResult, *, config: Config, run_name: str | None = None, register: bool = True) -> tuple[str, dict[str, str]]:
    """Log one training run and register its models; returns the run id and each target's new version.

    Logged: params (the model-shaping config sections, flattened), `config.yaml`, `fingerprint.json`,
    backtest metrics per target and scorer (the folds' mean and spread; each fold as a step of
    `<target>.<scorer>.<metric>.fold`), `backtest.csv`, `feature_schema.json`,
    `reference_sample.parquet`, plots per target, and each model as a pyfunc. The result's own config
    (what trained the models) is what is logged; `config` says where to log and under which names.

    Models are registered only after everything else was logged, so a failure half-way registers
    nothing (a failure between two registrations leaves a version tagged `run_status=FAILED`). No
    alias is set here: that is `apply_gate`'s decision. With `register=False` (a backtest only) the
    models are logged with the run but not registered.
    """
    _, client, experiment_id = connect(config)
    trained_config = result.config
    registered: dict[str, ModelVersion] = {}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        run_id = run.info.run_id
        try:
            mlflow.set_tags(
                {
                    "partner_churn.targets": ",".join(result.models),
                    "partner_churn.horizon_days": str(trained_config.labels.horizon_days),
                    **{f"fingerprint.{k}": _tag_value(v) for k, v in result.fingerprint.items() if _is_scalar(v)},
                }
            )
            mlflow.log_params(config_params(trained_config))
            mlflow.log_text(render_yaml(trained_config), "config.yaml")
            mlflow.log_text(json.dumps(result.fingerprint, indent=2, default=str, sort_keys=True), "fingerprint.json")
            mlflow.log_metrics(backtest_metrics(result.backtest))
            for step, values in fold_metrics(result.backtest).items():
                mlflow.log_metrics(values, step=step)
            mlflow.log_text(result.backtest.to_csv(index=False), "backtest.csv")
            mlflow.log_text(json.dumps([dataclasses.asdict(spec) for spec in result.schema], indent=2), "feature_schema.json")
            with tempfile.TemporaryDirectory(prefix="partner-churn-run-") as scratch:
                sample_path = Path(scratch) / "reference_sample.parquet"
                result.reference_sample.to_parquet(sample_path, index=False)
                mlflow.log_artifact(str(sample_path))

                for target, model in result.models.items():
                    mlflow.log_figure(plots.calibration_curve(result.predictions, target), f"plots/{target}/calibration.png")
                    mlflow.log_figure(plots.feature_importance(model), f"plots/{target}/feature_importance.png")
                    mlflow.log_figure(plots.lift_chart(result.predictions, target), f"plots/{target}/lift.png")

                model_uris: dict[str, str] = {}
                kinds = {spec.name: spec.kind for spec in result.schema}
                loader = Path(scratch) / "partner_churn_model.py"
                loader.write_text(MODEL_CODE)
                for target, model in result.models.items():
                    folder = Path(scratch) / target
                    model.save(folder)
                    rows = result.backtest_rows.get(target)
                    example = input_example(model, rows if rows is not None and len(rows) else result.reference_sample, kinds)
                    info = mlflow.pyfunc.log_model(
                        name=target,
                        python_model=str(loader),
                        artifacts={"model": str(folder)},
                        input_example=example,
                        signature=signature(model, kinds),
                        pip_requirements=pip_requirements(),
                    )
                    model_uris[target] = info.model_uri

            for target, model in result.models.items() if register else ():
                name = model_name(config, target)
                registered[target] = mlflow.register_model(model_uris[target], name, tags=_version_tags(result, target, model, run_id))
        except BaseException:
            for version in registered.values():
                try:
                    client.set_model_version_tag(version.name, str(version.version), "run_status", "FAILED")
                except MlflowException:
                    pass
            raise
    return run_id, {target: str(version.version) for target, version in registered.items()}


def backtest_metrics(backtest: pd.DataFrame) -> dict[str, float]:
    """The folds' mean as `<target>.<scorer>.<metric>` and their spread as `<target>.<scorer>.<metric>_spread`,
    on each target's headline population (`training.backtest.HEADLINE_POPULATION`); for upgrade potential the
    all-rows mean too, as `..._all_rows`. Missing values are left out."""
    metrics: dict[str, float] = {}
    whole = backtest[(backtest["segment"].astype(str) == "all") & backtest["fold"].astype(str).isin([MEAN, SPREAD])]
    for row in whole.itertuples(index=False):
        if row.population == HEADLINE_POPULATION.get(row.target, "all"):
            suffix = "" if row.fold == MEAN else "_spread"
        elif row.population == "all" and row.fold == MEAN:
            suffix = "_all_rows"
        else:
            continue
        for metric in BACKTEST_METRICS:
            value = getattr(row, metric, None)
            if value is not None and pd.notna(value) and math.isfinite(float(value)):
                metrics[f"{row.target}.{row.scorer}.{metric}{suffix}"] = float(value)
    return metrics


def fold_metrics(backtest: pd.DataFrame) -> dict[int, dict[str, float]]:
    """Per fold (its number is the MLflow step), `<target>.<scorer>.<metric>.fold` on the headline population."""
    steps: dict[int, dict[str, float]] = {}
    per_fold = backtest[(backtest["segment"].astype(str) == "all") & ~backtest["fold"].astype(str).isin(["all", MEAN, SPREAD])]
    for row in per_fold.itertuples(index=False):
        if row.population != HEADLINE_POPULATION.get(row.target, "all"):
            continue
        for metric in BACKTEST_METRICS:
            value = getattr(row, metric, None)
            if value is not None and pd.notna(value) and math.isfinite(float(value)):
                steps.setdefault(int(row.fold), {})[f"{row.target}.{row.scorer}.{metric}.fold"] = float(value)
    return steps


def _version_tags(result: TrainingResult, target: Target, model: TrainedModel, run_id: str) -> dict[str, str]:
    return {
        "target": target,
        "run_id": run_id,
        "backtest_roc_auc": figure_tag(result.model_auc.get(target)),
        "baseline_roc_auc": figure_tag(result.primary_baseline_auc.get(target)),
        "fold_roc_auc": json.dumps(fold_figures(result.backtest, target, "model")),
        "procedure": procedure_id(result.config),
        "label_definition": label_definition_id(result.config),
        "fold_tests": json.dumps(fold_tests(result)),
        "data_sha256": str(result.fingerprint.get("sha256", "")),
        "trained_at": model.trained_at,
        "trained_through": model.trained_through,
        "refit_rounds": str(model.validated_by.get("rounds", model.best_iteration)),
        "feature_count": str(len(model.features)),
        "calibration": model.calibrator.method,
    }


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None or isinstance(value, pd.Timestamp)


def _tag_value(value: object) -> str:
    return "" if value is None else str(value)[:5000]
