"""The two checks end to end: read what they need, run the pure comparison, write reports, log to MLflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.contract import Program
from features.pipeline import build_features, build_labels
from features.schema import feature_schema
from monitoring import drift as drift_check
from monitoring import performance as performance_check
from monitoring import store, summary
from monitoring.verdict import Recommendation
from partner_churn.config import Config
from partner_churn.errors import InputError


@dataclass
class CheckOutcome:
    """What a check prints: its summary line, the files it wrote, its MLflow run and its recommendation."""

    summary: str
    recommendation: Recommendation
    files: list[Path] = field(default_factory=list)
    run_id: str = ""


def program_features(program: Program, config: Config) -> Callable[[pd.Timestamp], pd.DataFrame]:
    """The features of a loaded program at a cutoff (the local engine's `features_at` for `run_drift`)."""
    return lambda as_of: build_features(program.partners, program.events, [as_of], config, surveys=program.surveys)


def run_drift(config: Config, features_at: Callable[[pd.Timestamp], pd.DataFrame], as_of: pd.Timestamp) -> CheckOutcome:
    """Drift of the scored population of `as_of` against the scoring model's training reference; writes the
    summary page (drift_summary.html, in `scoring.lang`) first, then Evidently's drift.html and drift.json,
    each whole or not at all. `features_at(cutoff)` gives the program's features at the scoring's cutoff
    (`program_features`, or the dask engine's `build_features_on`)."""
    risk_list = store.read_risk_list(config.paths.output_dir, as_of)
    as_of = store.scored_as_of(risk_list, as_of)
    models = store.scoring_models(config, risk_list)
    reference = store.reference_sample(config, models)
    features = features_at(as_of)
    scored = drift_check.current_population(features, risk_list, config)
    read = store.model_features(config, models)
    schema = [spec for spec in feature_schema(config) if spec.name in read]
    result, snapshot = drift_check.compare(reference, scored, schema, config, as_of=as_of)
    result.model = store.model_record(models)
    folder = store.reports_folder(config, as_of)
    page, html, payload = folder / summary.SUMMARY, folder / summary.FULL_REPORT, folder / summary.FIGURES
    store.write_text(summary.render_summary(result, schema, config), page)  # first: the page people read, even if Evidently's fails
    store.write_text(snapshot.get_html_str(as_iframe=False), html)
    store.write_json(result.to_json(), payload)
    metrics = {
        "share_drifted": result.share_drifted,
        "drifted_features": result.drifted_features,
        "dataset_drift": float(result.dataset_drift),
        "score_drift": float(result.score_drift),
        "tenure_coverage": result.sampling.coverage,
        "current_rows": result.sampling.compared_current_rows,
        "reference_rows": result.sampling.compared_reference_rows,
        **{f"score.{c.column}": c.drift_score for c in result.scores},
        **{f"feature.{c.column}": c.drift_score for c in result.features},
    }
    run_id = store.log_check(
        config,
        kind="drift",
        date=as_of,
        models=models,
        metrics=metrics,
        files=[page, html, payload],
        verdict=f"{result.recommendation.action}: {result.drifted_features} of {len(result.features)} features drifted",
    )
    line = f"{result.summary_line()}; model {store.primary(models).label()}"
    return CheckOutcome(line, result.recommendation, [page, html, payload], run_id)


LabelsAt = Callable[[pd.Timestamp, pd.Timestamp], pd.DataFrame]
"""The program's labels at a cutoff given the data's end (`program_labels`, or the dask engine's `build_labels_on`)."""


def program_labels(program: Program, config: Config) -> LabelsAt:
    """The labels of a loaded program at a cutoff (the local engine's `labels_at` for `run_performance`)."""
    return lambda as_of, end: build_labels(program.partners, program.events, [as_of], config, data_end=end)


def run_performance(config: Config, scored_at: pd.Timestamp, *, end: pd.Timestamp, labels_at: LabelsAt) -> CheckOutcome:
    """Realized performance of the scoring of `scored_at`, once its horizon has passed in the data, which ends
    at `end` (its last event); `labels_at(cutoff, end)` gives the program's labels."""
    _check_horizon(scored_at, end, config)
    risk_list = store.read_risk_list(config.paths.output_dir, scored_at)
    scored_at = store.scored_as_of(risk_list, scored_at)
    _check_horizon(scored_at, end, config)
    models = store.scoring_models(config, risk_list)
    backtest = pd.concat([store.backtest_of(config, m).query("target == @t") for t, m in models.items()], ignore_index=True)
    labels = labels_at(scored_at, end)
    result = performance_check.evaluate(
        risk_list,
        labels,
        backtest,
        config.monitoring,
        scored_at=scored_at,
        horizon_days=config.labels.horizon_days,
        model=store.model_record(models),
    )
    folder = store.reports_folder(config, scored_at)
    payload, table = folder / "performance.json", folder / "performance.csv"
    store.write_json(result.to_json(), payload)
    store.write_text(result.table.to_csv(index=False, float_format="%.6g"), table)
    metrics = {}
    for target in result.targets:
        row = result.overall(target)
        metrics.update({f"{target}.{m}": row[m] for m in performance_check.SHOWN})
        metrics[f"{target}.expected_roc_auc"] = row["expected_roc_auc"]
    run_id = store.log_check(
        config,
        kind="performance",
        date=scored_at,
        models=models,
        metrics=metrics,
        files=[payload, table],
        verdict=f"{result.recommendation.action}: {result.summary_line()}",
    )
    return CheckOutcome(result.summary_line(), result.recommendation, [payload, table], run_id)


def _check_horizon(scored_at: pd.Timestamp, end: pd.Timestamp, config: Config) -> None:
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    if scored_at + horizon > end:
        raise InputError(
            f"the outcomes of the scoring of {scored_at:%Y-%m-%d} are known once its {config.labels.horizon_days}-day horizon "
            f"has passed ({scored_at + horizon:%Y-%m-%d %H:%M} UTC); the data ends {end:%Y-%m-%d %H:%M} UTC: run this later"
        )


def latest_with_outcomes(config: Config, end: pd.Timestamp) -> pd.Timestamp | None:
    """The latest saved scoring whose horizon has passed in data ending at `end`; None when there is none yet."""
    last_day = (end - pd.Timedelta(days=config.labels.horizon_days)).floor("D")
    return store.latest_scoring_before(config.paths.output_dir, last_day + pd.Timedelta(days=1))
