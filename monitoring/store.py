"""Monitoring's edges: saved risk lists, the scoring models' MLflow runs, report files, monitoring runs.

Which model is checked: the versions named in the risk list's `model_version` column, i.e. the ones
that produced the scores (normally the champions; after a promotion, last month's risk list was still
scored by the previous one). Their training run provides the reference sample and the backtest.
Every check is logged as a run of the experiment `monitoring.experiment_name`, tagged with those
versions, and its verdict is tagged on each version (`monitoring.drift`, `monitoring.performance`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from partner_churn.config import Config
from partner_churn.domain import TARGETS, VALID_UNTIL, target_of_model
from partner_churn.errors import InputError
from partner_churn.files import write_atomically
from serving.outputs import RISK_LIST, read_risk_list_file, scoring_dates, scoring_folder

T = TypeVar("T")
FAR_FUTURE = VALID_UNTIL


@dataclass(frozen=True)
class ScoringModel:
    """A registered version that scored a risk list, and where it came from."""

    target: str
    name: str
    version: str
    run_id: str
    champion: bool
    """Whether it still holds the `champion` alias."""

    def version_label(self) -> str:
        """'partner-churn-deactivation-risk v3': how every monitoring output names the version."""
        return f"{self.name} v{self.version}"

    def label(self) -> str:
        return self.version_label() + (" (champion)" if self.champion else " (no longer champion)")


# --------------------------------------------------------------------------------------------------
# Risk lists


def latest_scoring_before(output_dir: Path, before: pd.Timestamp) -> pd.Timestamp | None:
    """The latest date before `before` (a UTC midnight) with a saved risk list of active partners; None when there is none."""
    earlier = [day for day in scoring_dates(output_dir) if day < before]
    return earlier[-1] if earlier else None


def latest_scoring(output_dir: Path) -> pd.Timestamp:
    """The latest date with a saved risk list, or a clear error."""
    found = latest_scoring_before(output_dir, FAR_FUTURE)
    if found is None:
        raise InputError(f"no scorings in {output_dir}: run partner-churn score --as-of DATE first")
    return found


def read_risk_list(output_dir: Path, as_of: pd.Timestamp) -> pd.DataFrame:
    """The risk list saved by `partner-churn score --as-of DATE`, or a clear error."""
    path = scoring_folder(output_dir, as_of) / RISK_LIST
    if not path.exists():
        latest = latest_scoring_before(output_dir, FAR_FUTURE)
        known = f"the latest in {output_dir} is {latest:%Y-%m-%d}" if latest is not None else f"{output_dir} holds none"
        raise InputError(f"no risk list for {as_of:%Y-%m-%d}: {path} not found ({known}); run partner-churn score --as-of {as_of:%Y-%m-%d} first")
    try:
        frame = read_risk_list_file(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot read the risk list ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if frame.empty:
        raise InputError(f"{path}: the risk list is empty")
    return frame


def scored_as_of(risk_list: pd.DataFrame, requested: pd.Timestamp) -> pd.Timestamp:
    """The scoring time the risk list was made at (its `as_of` column): what features and labels are
    computed at. A date alone means that day's scoring, whatever its time; a time must match."""
    if "as_of" not in risk_list.columns:
        raise InputError(f"the risk list of {requested:%Y-%m-%d} has no as_of column: score it again with partner-churn score")
    times = pd.to_datetime(risk_list["as_of"], utc=True).dropna().unique()
    if len(times) != 1:
        raise InputError(f"the risk list of {requested:%Y-%m-%d} holds {len(times)} scoring times in its as_of column; expected one")
    actual = pd.Timestamp(times[0])
    if requested != requested.normalize() and requested != actual:
        raise InputError(f"the risk list of {requested:%Y-%m-%d} was scored as of {actual.isoformat()}, not {requested.isoformat()}")
    return actual


# --------------------------------------------------------------------------------------------------
# The models that scored, and their training runs


def scored_versions(risk_list: pd.DataFrame, config: Config) -> dict[str, tuple[str, str]]:
    """Target -> (registered name, version) from the risk list's model_version, e.g.
    'partner-churn-deactivation-risk:v3 partner-churn-upgrade-potential:v2'."""
    if "model_version" not in risk_list:
        raise InputError("the risk list has no model_version column: it was not written by partner-churn score")
    labels = risk_list["model_version"].dropna().unique()
    if len(labels) != 1:
        raise InputError(f"the risk list names {len(labels)} model versions ({list(labels)[:3]}); expected one")
    found: dict[str, tuple[str, str]] = {}
    for token in str(labels[0]).split():
        name, _, version = token.rpartition(":v")
        target = target_of_model(name, config)
        if target is not None and version.isdigit():
            found[target] = (name, version)
    if not found:
        raise InputError(f"cannot read the scoring models from model_version {labels[0]!r} (expected '{config.training.risk_model_name}:vN ...')")
    return found


def scoring_models(config: Config, risk_list: pd.DataFrame) -> dict[str, ScoringModel]:
    """The registered versions that scored the risk list, with their runs; an error when the store lacks them."""
    from training.registry import list_models

    registered = list_models(config)
    models = {}
    for target, (name, version) in scored_versions(risk_list, config).items():
        row = registered[(registered["name"] == name) & (registered["version"] == version)]
        if row.empty:
            known = ", ".join(registered.loc[registered["name"] == name, "version"]) or "none"
            raise InputError(
                f"the risk list was scored by {name} v{version}, which the MLflow store {config.paths.mlflow_tracking_uri} "
                f"does not hold (versions of {name}: {known}); point paths.mlflow_tracking_uri at the store it came from"
            )
        aliases = str(row["aliases"].iloc[0]).split(",")
        models[target] = ScoringModel(target, name, version, str(row["run_id"].iloc[0]), champion="champion" in aliases)
    return models


def run_artifact(config: Config, run_id: str, artifact: str, reader: Callable[[Path], T]) -> T:
    """Read one artifact of a training run with `reader`; a clear error when it is missing or unreadable."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from training.registry import configure_tracking

    configure_tracking(config)
    with tempfile.TemporaryDirectory(prefix="partner-churn-monitor-") as scratch:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=scratch)
            return reader(Path(local))
        except (MlflowException, OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"MLflow run {run_id}: cannot read {artifact} ({first})") from None


def reference_sample(config: Config, models: dict[str, ScoringModel]) -> pd.DataFrame:
    """The reference sample logged by the risk model's training run, its scores from the scoring versions.

    When the potential model came from another run (one model promoted by hand), the reference's
    upgrade_potential is recomputed with it, so both sides of the comparison carry that version's scores.
    """
    from training.registry import load_model

    first = primary(models)
    reference = run_artifact(config, first.run_id, "reference_sample.parquet", pd.read_parquet)
    for target, scoring in models.items():
        if scoring.run_id != first.run_id:
            model, _ = load_model(config, scoring.name, scoring.version)
            reference[target] = model.predict(reference)
    for target in TARGETS:
        if target not in models:
            reference[target] = np.nan  # unavailable when the list was scored: nothing to compare on either side
    return reference


def model_features(config: Config, models: dict[str, ScoringModel]) -> set[str]:
    """The features the scoring models read: what drift is judged on (a feature no model reads, such as the
    counts of an event type the program never had, would only dilute the drifted share)."""
    from training.registry import load_model

    return {name for scoring in models.values() for name in load_model(config, scoring.name, scoring.version)[0].features}


def primary(models: dict[str, ScoringModel]) -> ScoringModel:
    """The model a check is named by: deactivation risk, or upgrade potential when risk was unavailable."""
    return models.get("deactivation_risk") or models["upgrade_potential"]


def backtest_of(config: Config, model: ScoringModel) -> pd.DataFrame:
    """The backtest table logged by a version's training run (the expectation realized performance is judged by)."""
    return run_artifact(
        config,
        model.run_id,
        "backtest.csv",
        lambda path: pd.read_csv(path, dtype={"cutoff": str, "fold": str, "origin": str, "population": str, "segment": str}),
    )


def model_record(models: dict[str, ScoringModel]) -> dict[str, Any]:
    """What drift.json and performance.json say about the models checked."""
    return {m.target: {"name": m.name, "version": m.version, "run_id": m.run_id, "champion": m.champion} for m in models.values()}


# --------------------------------------------------------------------------------------------------
# Reports and monitoring runs


def reports_folder(config: Config, date: pd.Timestamp) -> Path:
    """Where a check of the scoring of `date` writes its reports: <reports_dir>/monitoring/DATE."""
    folder = config.paths.reports_dir / "monitoring" / f"{date:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(payload: dict[str, Any], path: Path) -> Path:
    return write_text(json.dumps(payload, indent=2, default=str) + "\n", path)


def write_text(text: str, path: Path) -> Path:
    """Write a report whole or not at all (`write_atomically`: a reader, a scheduler or an MLflow upload sees the
    old file or the new one, never half of one; a failed write leaves the old file and no temporary one)."""
    return write_atomically(path, lambda scratch: scratch.write_text(text, encoding="utf-8"))


def log_check(
    config: Config,
    *,
    kind: str,
    date: pd.Timestamp,
    models: dict[str, ScoringModel],
    metrics: dict[str, float],
    files: list[Path],
    verdict: str,
) -> str:
    """One MLflow run of the monitoring experiment for a check, tagged with the versions it judged; the
    verdict also goes on each version as tag `monitoring.<kind>`. Returns the run id."""
    import math

    import mlflow
    from mlflow import MlflowClient

    from training.registry import configure_tracking

    monitoring = config.model_copy(update={"training": config.training.model_copy(update={"experiment_name": config.monitoring.experiment_name})})
    uri = configure_tracking(monitoring)  # creates the monitoring experiment as training's, with the same artifact root
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name(config.monitoring.experiment_name)
    assert experiment is not None, "configure_tracking creates the experiment when it is missing"
    tags = {"partner_churn.check": kind, "partner_churn.date": f"{date:%Y-%m-%d}", "partner_churn.verdict": verdict}
    for model in models.values():
        tags.update(
            {
                f"{model.target}.model": model.name,
                f"{model.target}.version": model.version,
                f"{model.target}.run_id": model.run_id,
                f"{model.target}.champion": str(model.champion).lower(),
            }
        )
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name=f"{kind} {date:%Y-%m-%d}", tags=tags) as run:
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))})
        for path in files:
            mlflow.log_artifact(str(path))
    for model in models.values():
        client.set_model_version_tag(model.name, model.version, f"monitoring.{kind}", f"{date:%Y-%m-%d}: {verdict}"[:5000])
    return run.info.run_id
