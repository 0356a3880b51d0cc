"""MLflow tracking and model registry of partner-churn: log a training run, gate promotion, load the champion.

The embedded default is a SQLite store (`sqlite:///work/mlflow.db`) with artifacts under
`paths.mlflow_artifacts_dir`; a team points `MLFLOW_TRACKING_URI` at a tracking server instead. The
registry lives in the same store as the runs.

Each target's model is registered under its own name (`training.risk_model_name`,
`training.potential_model_name`) as an MLflow pyfunc that wraps `TrainedModel`, so every consumer of
the registry (this module, `mlflow models serve`, the service) gets calibrated probabilities, never the
0/1 labels MLflow's LightGBM flavour would return.

The pair in force (`training.champions`) is the only thing that decides what is scored and served: it
is moved as one unit by `apply_gate` (after a run was logged completely), by a deliberate `promote` or
by `rollback`; a version the gate refused gets the alias `challenger`.
Nothing here touches MLflow or the disk at import time; every public function configures the tracking
URI from the config it is given.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import logging
import math
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, Schema
from pydantic import BaseModel, ValidationError

from partner_churn import domain
from partner_churn.config import Config, describe_errors, pin_option, render_yaml
from partner_churn.domain import target_of_model
from partner_churn.errors import DamagedModelError, InputError
from training import champions, plots
from training.backtest import HEADLINE_POPULATION, MEAN, SPREAD, fold_figures, gate_baseline, headline
from training.model import Target, TrainedModel
from training.result import TrainingResult
from training.store import alias_version, is_not_found, quote_name, reroot_artifacts, sqlite_path

CHAMPION = champions.CHAMPION
CHALLENGER = "challenger"
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
LOGGED_CONFIG_SECTIONS = ("data", "labels", "features", "segments", "training")
"""Config sections logged as run params; paths, serving and monitoring do not shape a model."""
PYFUNC_REQUIREMENTS = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy")
"""Pinned from the running environment so MLflow does not infer requirements in a subprocess."""
REACHABILITY_TIMEOUT_SECONDS = 3.0
INPUT_EXAMPLE_ROWS = 5
MODEL_CODE = (
    '"""MLflow model from code: the partner-churn wrapper; the model files come as the artifact `model`."""\n'
    "import mlflow\n"
    "from training.registry import PartnerChurnModel\n"
    "mlflow.models.set_model(PartnerChurnModel())\n"
)
"""Logged as the pyfunc's code (MLflow "models from code"), so loading runs this instead of unpickling."""
logger = logging.getLogger("partner_churn.registry")
_GAIN_EPSILON = 1e-12
"""Absorbs float noise, so an AUC exactly at the required gain passes the gate."""


# --------------------------------------------------------------------------------------------------
# Tracking URI and experiment


def configure_tracking(config: Config) -> str:
    """Point MLflow (tracking and registry) at `paths.mlflow_tracking_uri`, ready to log; returns the URI.

    SQLite: the database's folder is created. A tracking server (http/https) must answer within a few
    seconds, else InputError: MLflow's own client would retry for minutes before failing. The experiment
    `training.experiment_name` is created if missing; on a local store its artifacts go to
    `paths.mlflow_artifacts_dir`, on a server the server's artifact root decides.
    """
    uri, _, _ = _prepare(config)
    return uri


def _prepare(config: Config) -> tuple[str, MlflowClient, str]:
    """Configure MLflow for this config; the URI, a client bound to it and the experiment id."""
    uri = config.paths.mlflow_tracking_uri.strip()
    if not uri:
        raise InputError("paths.mlflow_tracking_uri is empty; set MLFLOW_TRACKING_URI or paths.mlflow_tracking_uri")
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme in ("http", "https"):
        _check_reachable(uri)
    elif scheme == "sqlite":
        sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
        uri = _with_busy_timeout(uri, config.paths.mlflow_store_wait_seconds)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = config.training.experiment_name
    try:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifact_location = None
            if scheme not in ("http", "https"):
                artifact_location = config.paths.mlflow_artifacts_dir.absolute().resolve().as_uri()
            experiment_id = client.create_experiment(name, artifact_location=artifact_location)
        else:
            if experiment.lifecycle_stage != "active":
                raise InputError(
                    f"MLflow experiment '{name}' at {uri} is deleted: restore it "
                    "(mlflow experiments restore) or set training.experiment_name"
                )
            experiment_id = experiment.experiment_id
            if scheme == "sqlite":
                _keep_artifacts_beside(uri, experiment.artifact_location, config)
    except MlflowException as exc:
        raise InputError(f"MLflow tracking URI {uri}: {_first_line(exc)}") from exc
    return uri, client, experiment_id


def _with_busy_timeout(uri: str, seconds: float) -> str:
    """A SQLite URI whose connections wait up to `seconds` for another process's lock (sqlite's busy timeout,
    SQLAlchemy's `timeout` query parameter), unless the URI sets its own."""
    if "timeout=" in urllib.parse.urlsplit(uri).query:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}timeout={seconds:g}"


def _keep_artifacts_beside(uri: str, recorded: str, config: Config) -> None:
    """A store copied or moved with its artifact folder uses that folder: locations recorded under another
    root are re-rooted at `paths.mlflow_artifacts_dir` (so a copy never writes into, or reads from, the
    original's folder). InputError when the configured folder is empty while the recorded one holds the
    artifacts: the store was copied without them."""
    configured_folder = config.paths.mlflow_artifacts_dir.absolute().resolve()
    configured = configured_folder.as_uri()
    if recorded == configured or not recorded.startswith("file:"):
        return
    recorded_folder = Path(urllib.parse.unquote(urllib.parse.urlsplit(recorded).path))
    if not _holds_files(configured_folder) and _holds_files(recorded_folder):
        raise InputError(
            f"the MLflow store {uri} keeps its artifacts in {recorded_folder}, but paths.mlflow_artifacts_dir is "
            f"{configured_folder} (empty): copy the artifact folder with the store, or set paths.mlflow_artifacts_dir={recorded_folder}"
        )
    changed = reroot_artifacts(sqlite_path(uri), recorded, configured, wait_seconds=config.paths.mlflow_store_wait_seconds)
    logger.warning("MLflow store %s: %d artifact locations moved from %s to %s (the store was copied or moved)", uri, changed, recorded_folder, configured_folder)


def _holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _check_reachable(uri: str) -> None:
    """Any HTTP answer (even 401 or 404) means a server listens; no answer in time means unreachable."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=REACHABILITY_TIMEOUT_SECONDS):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"MLflow tracking URI {uri}: unreachable ({reason}); set MLFLOW_TRACKING_URI or paths.mlflow_tracking_uri"
        ) from None


# --------------------------------------------------------------------------------------------------
# The pyfunc wrapper


class PartnerChurnModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc around `TrainedModel`: a frame of features in, calibrated probabilities out.

    The model files (`TrainedModel.save`) travel as the pyfunc artifact `model`; the pyfunc's code is
    `MODEL_CODE`, so loading needs the partner-churn package importable and unpickles nothing.
    """

    model: TrainedModel

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = TrainedModel.load(Path(context.artifacts["model"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """One float column named after the target (`deactivation_risk` or `upgrade_potential`)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return pd.DataFrame({self.model.target: self.model.predict(frame).astype(float)}, index=frame.index)


def _input_example(model: TrainedModel, rows: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
    """A few feature rows typed as the feature schema declares them: int, float, text categories.

    Rows with their categorical attributes filled come first, so the example shows real categories.
    """
    frame = rows[model.features]
    if model.categories:
        complete = frame[list(model.categories)].notna().all(axis=1)
        frame = pd.concat([frame[complete], frame[~complete]])
    example = frame.head(INPUT_EXAMPLE_ROWS).reset_index(drop=True).copy()
    for name in model.features:
        kind = _column_kind(name, model, kinds)
        if kind == "category":
            example[name] = [None if pd.isna(v) else str(v) for v in example[name].astype(object)]
        else:
            values = pd.to_numeric(example[name], errors="coerce")
            example[name] = values.astype("int64") if kind == "int" and values.notna().all() else values.astype("float64")
    return example


def _signature(model: TrainedModel, kinds: Mapping[str, str]) -> ModelSignature:
    """Input columns typed from the feature schema (int -> long, float -> double, category -> string), output
    one double column named after the target.

    Declared rather than inferred from the example: inference would call a column optional only because
    the example happened to hold a missing value, and MLflow refuses to convert int64 to float64.
    """
    mlflow_type = {"int": "long", "float": "double", "category": "string"}
    inputs = Schema([ColSpec(mlflow_type[_column_kind(name, model, kinds)], name) for name in model.features])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", model.target)]))


def _column_kind(name: str, model: TrainedModel, kinds: Mapping[str, str]) -> str:
    if name in model.categories:
        return "category"
    return "int" if kinds.get(name) == "int" else "float"


def _pip_requirements() -> list[str]:
    pinned = []
    for package in PYFUNC_REQUIREMENTS:
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pinned.append(package)
    return pinned


# --------------------------------------------------------------------------------------------------
# Logging a training run


def model_name(config: Config, target: Target | str) -> str:
    """Registered model name of a target (`partner_churn.domain.model_name`)."""
    return domain.model_name(str(target), config)


def log_training_run(
    result: TrainingResult, *, config: Config, run_name: str | None = None, register: bool = True
) -> tuple[str, dict[str, str]]:
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
    _, client, experiment_id = _prepare(config)
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
            mlflow.log_text(
                json.dumps([dataclasses.asdict(spec) for spec in result.schema], indent=2), "feature_schema.json"
            )
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
                    example = _input_example(model, rows if rows is not None and len(rows) else result.reference_sample, kinds)
                    info = mlflow.pyfunc.log_model(
                        name=target,
                        python_model=str(loader),
                        artifacts={"model": str(folder)},
                        input_example=example,
                        signature=_signature(model, kinds),
                        pip_requirements=_pip_requirements(),
                    )
                    model_uris[target] = info.model_uri

            for target, model in (result.models.items() if register else ()):
                name = model_name(config, target)
                registered[target] = mlflow.register_model(
                    model_uris[target], name, tags=_version_tags(result, target, model, run_id)
                )
        except BaseException:
            for version in registered.values():
                try:
                    client.set_model_version_tag(version.name, str(version.version), "run_status", "FAILED")
                except MlflowException:
                    pass
            raise
    return run_id, {target: str(version.version) for target, version in registered.items()}


def config_params(config: Config, *, sections: tuple[str, ...] = LOGGED_CONFIG_SECTIONS) -> dict[str, str]:
    """Config sections (by default the model-shaping ones) as flat `section.key` params (lists and mappings as JSON)."""
    params: dict[str, str] = {}

    def walk(prefix: str, section: BaseModel) -> None:
        for key in type(section).model_fields:
            value = getattr(section, key)
            if isinstance(value, BaseModel):
                walk(f"{prefix}.{key}", value)
            elif isinstance(value, (list, dict)):
                params[f"{prefix}.{key}"] = json.dumps(value, default=str)
            else:
                params[f"{prefix}.{key}"] = str(value)

    for section in sections:
        walk(section, getattr(config, section))
    return params


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


PROCEDURE_SECTIONS = ("data", "labels", "features", "segments", "training")
"""Config sections that make the procedure (with the code): what a champion's procedure is re-run with
(`data` too: its event types, attributes and mappings shape the features)."""
NOT_PROCEDURE = ("training.experiment_name", "training.risk_model_name", "training.potential_model_name", "training.pair_model_name",
                 "training.promotion_min_gain_over_recency", "training.promotion_max_loss_vs_champion")
"""Keys of those sections that name things or set the gate: they do not change what the folds measure."""
LABEL_SECTIONS = ("labels", "segments")
"""What defines the labels and the populations a figure is computed on: figures are comparable only when equal."""
RENAMED_KEYS = {("training", "backtest_cutoffs"): "backtest_folds"}
"""Keys renamed since a run was logged, so an older champion's settings still load (and are re-run as folds)."""


def procedure_id(config: Config) -> str:
    """A short hash of the settings that make the procedure and of the code's version: two runs with the same
    id, on the same data, produce the same folds and figures (training is seeded and deterministic)."""
    params = {k: v for k, v in config_params(config).items() if k.split(".", 1)[0] in PROCEDURE_SECTIONS and k not in NOT_PROCEDURE}
    params["code"] = _package_version()
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def label_definition_id(config: Config) -> str:
    """A short hash of what the labels and populations mean (`LABEL_SECTIONS`)."""
    params = {k: v for k, v in config_params(config, sections=LABEL_SECTIONS).items()}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def fold_tests(result: TrainingResult) -> dict[str, list[str]]:
    """Each fold's test cutoffs (ISO dates) by origin: two runs' folds are the same folds only when these are."""
    return {str(fold.origin.date()): [str(c.date()) for c in fold.test] for fold in result.plan.folds} if result.plan else {}


def _package_version() -> str:
    try:
        return metadata.version("partner-churn")
    except metadata.PackageNotFoundError:
        return "unknown"


def _version_tags(result: TrainingResult, target: str, model: TrainedModel, run_id: str) -> dict[str, str]:
    return {
        "target": target,
        "run_id": run_id,
        "backtest_roc_auc": _fmt(result.model_auc.get(target)),
        "baseline_roc_auc": _fmt(result.primary_baseline_auc.get(target)),
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


# --------------------------------------------------------------------------------------------------
# Promotion gate


@dataclass
class GateDecision:
    """What the gate decided for one target's new version, and why, in words."""

    target: str
    name: str
    """Registered model name."""
    version: str
    """The new version."""
    promoted: bool
    """True: the version is now `champion`; False: it is `challenger`."""
    reason: str
    new_auc: float
    """The folds' mean ROC-AUC of the new version's procedure (headline population)."""
    baseline_auc: float
    """The best gate baseline's mean ROC-AUC on the same folds."""
    champion_version: str | None
    """The champion before this decision; None if there was none."""
    champion_auc: float | None
    """That champion's procedure's mean ROC-AUC on the same folds of the same data."""
    champion_basis: str = ""
    """How the champion's figure was obtained: recorded for this data, same procedure, or re-run."""


Rerun = Callable[[Config], TrainingResult]
"""Judges a procedure (a config) on the data being trained on, without the final refit."""


def apply_gate(
    result: TrainingResult, versions: Mapping[str, str], *, config: Config, rerun: Rerun | None = None
) -> list[GateDecision]:
    """Put the new versions that earn it in force as one pair; the others get `challenger`: procedure against procedure.

    Promoted when the folds' mean ROC-AUC beats the best gate baseline's by `training.promotion_min_gain_over_recency`
    and is at most `training.promotion_max_loss_vs_champion` below the champion's *procedure* judged on the
    same folds of the same data, never the champion model on rows it was trained on. That figure is the
    champion's own recorded folds when it was trained on this very data; this run's folds when its procedure
    (`procedure_id`) is this one; else its logged settings re-run on these folds with `rerun`. A champion
    whose procedure cannot be judged so blocks automatic promotion: compare by hand and use `promote`. The
    decision is written as tags on the version and on its run; the promoted versions, with the pair's other
    targets as they were, are then put in force in one move (`champions.put_in_force`), the run's decision's
    commit point. Decisions on one store are serialised (`champions.decision_lock`).
    """
    _, client, _ = _prepare(config)
    with champions.decision_lock(config):
        in_force = champions.champion_pair(client, config)
        decisions = _decide(client, result, versions, in_force, config, rerun)
        promoted = {d.target: d.version for d in decisions if d.promoted}
        if promoted:
            words = "; ".join(f"{d.target} v{d.version}: {d.reason}" for d in decisions if d.promoted)
            champions.put_in_force(
                client, config, {**in_force.versions, **promoted}, made_by="gate", reason=words, run_id=_run_of(client, config, versions)
            )
    return decisions


def _run_of(client: MlflowClient, config: Config, versions: Mapping[str, str]) -> str:
    """The training run the new versions came from ('' when none is named)."""
    for target, version in versions.items():
        run_id = client.get_model_version(model_name(config, target), str(version)).run_id
        if run_id:
            return run_id
    return ""


def _decide(
    client: MlflowClient,
    result: TrainingResult,
    versions: Mapping[str, str],
    in_force: champions.ChampionPair,
    config: Config,
    rerun: Rerun | None,
) -> list[GateDecision]:
    """Each target's decision against the pair in force, recorded as tags (and `challenger` for a refused one)."""
    gate = config.training
    decisions = []
    reruns: dict[str, TrainingResult | str] = {}
    for target in result.models:
        if target not in versions:
            raise InputError(f"no registered version given for {target}; log the run first (log_training_run)")
        name = model_name(config, target)
        version = str(versions[target])
        new_auc = float(result.model_auc[target])
        baseline_scorer, baseline_auc = gate_baseline(result.backtest, target)
        baseline = BASELINE_WORDS.get(baseline_scorer, "the " + baseline_scorer.replace("_", " ")) if baseline_scorer else "the baseline"
        spread = headline(result.backtest, target, "model", fold=SPREAD)
        figure = f"{FIGURE_WORDS[target]} {new_auc:.3f}" + (f" ± {spread:.3f}" if math.isfinite(spread) else "")
        champion = client.get_model_version(name, in_force.versions[target]) if target in in_force.versions else None
        if champion is not None and str(champion.version) == version:
            champion = None  # the gate is re-applied to the version already in force
        champion_version = None if champion is None else str(champion.version)
        champion_auc: float | None = None
        ours_on_common = new_auc
        champion_problem, basis = "", ""
        if champion is not None:
            ours_on_common, champion_auc, basis, champion_problem = _champion_procedure(
                client, champion, result, target, config, rerun, reruns
            )

        gain = new_auc - baseline_auc
        folds = len(result.fold_origins)
        if not math.isfinite(new_auc):
            promoted = False
            reason = f"{FIGURE_WORDS[target]} is undefined over these {folds} folds (a fold holds one class only); nothing to judge it by"
        elif not math.isfinite(baseline_auc) or gain + _GAIN_EPSILON < gate.promotion_min_gain_over_recency:
            relation = "cannot be compared with a baseline" if not math.isfinite(baseline_auc) else (
                f"only {gain:.3f} above" if gain >= 0 else f"{-gain:.3f} below")
            promoted = False
            reason = (
                f"{figure} over {folds} folds is {relation} {baseline}'s {baseline_auc:.3f}; "
                f"the gate needs +{gate.promotion_min_gain_over_recency:.3f}"
            )
        elif champion is not None and champion_problem:
            promoted = False
            reason = (
                f"{figure} over {folds} folds beats {baseline}'s {baseline_auc:.3f}, but the champion v{champion_version}'s "
                f"procedure could not be judged on the same folds ({champion_problem}); compare by hand and use promote"
            )
        elif champion is not None and ours_on_common + _GAIN_EPSILON < champion_auc - gate.promotion_max_loss_vs_champion:
            promoted = False
            reason = (
                f"{figure} over {folds} folds{_on_common(ours_on_common, new_auc)} is below the champion v{champion_version}'s "
                f"procedure's {champion_auc:.3f} on the same folds ({basis}); the gate allows a loss of at most "
                f"{gate.promotion_max_loss_vs_champion:.3f}"
            )
        else:
            promoted = True
            versus = (
                "there was no champion"
                if champion is None
                else f"the champion v{champion_version}'s procedure scores {champion_auc:.3f} on the same folds ({basis})"
                + _on_common(ours_on_common, new_auc)
            )
            reason = (
                f"{figure} over {folds} folds beats {baseline}'s {baseline_auc:.3f} by {gain:.3f} "
                f"(the gate needs +{gate.promotion_min_gain_over_recency:.3f}); {versus}"
            )

        decision = GateDecision(
            target=target,
            name=name,
            version=version,
            promoted=promoted,
            reason=reason,
            new_auc=new_auc,
            baseline_auc=baseline_auc,
            champion_version=champion_version,
            champion_auc=champion_auc,
            champion_basis=basis,
        )
        _record_decision(client, decision)
        decisions.append(decision)
    return decisions


FIGURE_WORDS = {
    "deactivation_risk": "the folds' mean ROC-AUC",
    "upgrade_potential": "the folds' mean ROC-AUC on partners no tenure threshold reaches within the horizon",
}
"""How a decision names the figure it judges (upgrade potential without the mechanical, tenure-driven upgrades)."""


def _on_common(ours: float, overall: float) -> str:
    """The challenger's figure on the folds both procedures could be judged on, when it differs from its overall one."""
    return "" if abs(ours - overall) < 1e-12 else f" (this run: {ours:.3f} on the folds both have)"


def _champion_procedure(
    client: MlflowClient,
    champion: ModelVersion,
    result: TrainingResult,
    target: str,
    config: Config,
    rerun: Rerun | None,
    reruns: dict[str, TrainingResult | str],
) -> tuple[float, float | None, str, str]:
    """This run's and the champion's procedure's mean ROC-AUC over the folds both have a figure for, how the
    champion's was found, and a problem ('' if none)."""
    ours = fold_figures(result.backtest, target, "model")
    tags = dict(champion.tags)
    if tags.get("procedure") == procedure_id(result.config):
        return result.model_auc[target], result.model_auc[target], "the same settings and code: its procedure is this one, so these are its folds", ""
    same_folds = _json_or_empty(tags.get("fold_tests", ""), list) == fold_tests(result)
    if tags.get("data_sha256") == result.fingerprint.get("sha256") and same_folds and tags.get("label_definition") == label_definition_id(result.config):
        return *_common(ours, _json_or_empty(tags.get("fold_roc_auc", ""), float)), "its own folds on this same data", ""
    if rerun is None:
        return result.model_auc[target], None, "", "its settings differ from this run's and there is no data here to re-run them on"
    run_id = champion.run_id or ""
    if run_id not in reruns:
        try:
            champion_config = _procedure_config(client, run_id, config)
            if label_definition_id(champion_config) != label_definition_id(result.config):
                reruns[run_id] = "it predicts a differently defined label (its labels.* or segments.* settings differ)"
            else:
                reruns[run_id] = rerun(champion_config)
        except (InputError, MlflowException, OSError) as exc:
            reruns[run_id] = _first_line(exc)
    found = reruns[run_id]
    if isinstance(found, str):
        return result.model_auc[target], None, "", found
    theirs = fold_figures(found.backtest, target, "model")
    if not theirs:
        return result.model_auc[target], None, "", found.not_trained.get(target, "its procedure trains no model of this target on this data")
    if fold_tests(found) != fold_tests(result):
        return result.model_auc[target], None, "", f"its settings put the folds at {', '.join(sorted(theirs))}, this run's at {', '.join(sorted(ours))}"
    return *_common(ours, theirs), "its settings re-run on these folds", ""


def _common(ours: dict[str, float], theirs: dict[str, float]) -> tuple[float, float | None]:
    """Both means over the folds where both figures are defined (None for the champion when there is none)."""
    shared = [o for o in ours if o in theirs and math.isfinite(ours[o]) and math.isfinite(theirs[o])]
    if not shared:
        return float(np.nanmean(list(ours.values()))) if ours else float("nan"), None
    return float(np.mean([ours[o] for o in shared])), float(np.mean([theirs[o] for o in shared]))


def _procedure_config(client: MlflowClient, run_id: str, config: Config) -> Config:
    """`config` with the procedure sections of a run's logged `config.yaml` (names and gate settings kept)."""
    if not run_id:
        raise InputError("the version names no run, so its settings are unknown")
    with tempfile.TemporaryDirectory(prefix="partner-churn-config-") as scratch:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.yaml", dst_path=scratch)
        text = Path(local).read_text()
    logged = yaml.safe_load(text) or {}
    for (section, old_key), new_key in RENAMED_KEYS.items():
        if isinstance(logged.get(section), dict) and old_key in logged[section]:
            logged[section].setdefault(new_key, logged[section].pop(old_key))
    merged = config.model_dump(mode="python")
    for section in PROCEDURE_SECTIONS:
        if section in logged:
            merged[section] = logged[section]
    for key in NOT_PROCEDURE:
        section, name = key.split(".", 1)
        merged[section][name] = getattr(getattr(config, section), name)
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        raise InputError(f"its logged settings no longer load: {describe_errors(exc)}") from None


def _json_or_empty(text: str, kind: type) -> dict[str, Any]:
    """A tag's JSON mapping with values of `kind`; {} when missing or unreadable."""
    try:
        value = json.loads(text) if text else {}
        return {str(k): kind(v) for k, v in value.items()} if isinstance(value, dict) else {}
    except (json.JSONDecodeError, TypeError, ValueError):
        return {}


BASELINE_WORDS = {"btyd": "the BG/NBD model", "logistic_rfm": "the logistic RFM", "recency_rule": "the recency rule", "revenue_momentum": "the revenue momentum rule"}
"""How a decision names the baseline it was judged against."""


def _record_decision(client: MlflowClient, decision: GateDecision) -> None:
    """The decision as tags on the version and its run; a refused version also gets the alias `challenger`
    (a promoted one goes into force with its pair, in `apply_gate`)."""
    now = _now()
    version_tags = {
        "gate_decision": CHAMPION if decision.promoted else CHALLENGER,
        "gate_reason": decision.reason,
        "gate_at": now,
        "gate_champion_version": decision.champion_version or "",
        "gate_champion_auc": _fmt(decision.champion_auc),
    }
    for key, value in version_tags.items():
        client.set_model_version_tag(decision.name, decision.version, key, value)
    run_id = client.get_model_version(decision.name, decision.version).run_id
    if run_id:
        prefix = f"gate.{decision.target}"
        client.set_tag(run_id, f"{prefix}.version", decision.version)
        client.set_tag(run_id, f"{prefix}.decision", version_tags["gate_decision"])
        client.set_tag(run_id, f"{prefix}.reason", decision.reason)
    if not decision.promoted:
        client.set_registered_model_alias(decision.name, CHALLENGER, decision.version)


# --------------------------------------------------------------------------------------------------
# Registry views and deliberate actions


def list_models(config: Config) -> pd.DataFrame:
    """Every registered version of the two models: name, version, aliases, target, backtest_roc_auc,
    trained_through (the newest label its model learned from), created, run_id. `champion` among the
    aliases is the pair in force (not the per-target mirror, which may lag it)."""
    _, client, _ = _prepare(config)
    in_force = champions.champion_pair(client, config)
    rows = []
    for name in (config.training.risk_model_name, config.training.potential_model_name):
        try:
            registered = client.get_registered_model(name)
        except MlflowException as exc:
            if is_not_found(exc):
                continue
            raise
        aliases_of: dict[str, list[str]] = {}
        for alias, version in registered.aliases.items():
            if alias != CHAMPION:
                aliases_of.setdefault(str(version), []).append(alias)
        target = target_of_model(name, config)
        if target in in_force.versions:
            aliases_of.setdefault(in_force.versions[target], []).append(CHAMPION)
        for version in client.search_model_versions(f"name = '{quote_name(name)}'"):
            auc = version.tags.get("backtest_roc_auc")
            rows.append(
                {
                    "name": name,
                    "version": str(version.version),
                    "aliases": ",".join(sorted(aliases_of.get(str(version.version), []))),
                    "target": version.tags.get("target", ""),
                    "backtest_roc_auc": float(auc) if auc not in (None, "") else float("nan"),
                    "trained_through": version.tags.get("trained_through", "")[:10] or "unknown",
                    "created": pd.Timestamp(version.creation_timestamp, unit="ms", tz="UTC"),
                    "run_id": version.run_id or "",
                }
            )
    columns = ["name", "version", "aliases", "target", "backtest_roc_auc", "trained_through", "created", "run_id"]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    frame["_v"] = frame["version"].astype(int)
    return frame.sort_values(["name", "_v"]).drop(columns="_v").reset_index(drop=True)


def list_pairs(config: Config) -> pd.DataFrame:
    """Every pair record, newest first: pair, in_force, each target's version, made_by, at, reason, previous."""
    _, client, _ = _prepare(config)
    in_force = champions.champion_pair(client, config).number
    rows = [
        {
            "pair": pair.number,
            "in_force": "yes" if pair.number == in_force else "",
            **{target: f"v{pair.versions[target]}" if target in pair.versions else "none" for target in domain.TARGETS},
            "made_by": pair.made_by,
            "at": pair.at,
            "previous": pair.previous,
            "reason": pair.reason,
        }
        for pair in champions.pair_history(client, config)
    ]
    columns = ["pair", "in_force", *domain.TARGETS, "made_by", "at", "previous", "reason"]
    return pd.DataFrame(rows, columns=columns)


def champion_pair(config: Config) -> champions.ChampionPair:
    """The pair in force (one read of the store)."""
    _, client, _ = _prepare(config)
    return champions.champion_pair(client, config)


def promote(config: Config, name: str, version: str, reason: str) -> champions.ChampionPair:
    """Put a version in force by hand, overriding the gate, with the other target's champion as it is; who,
    why and when are recorded on the version and on the new pair record. Returns the pair now in force."""
    if not reason or not reason.strip():
        raise InputError("promote needs a reason: say why this version should override the gate")
    _, client, _ = _prepare(config)
    target_name = target_of_model(name, config)
    found = _resolve(client, name, _version_ref(version), config)
    if target_name is None:
        raise InputError(
            f"'{name}' is not one of this config's models ({', '.join(model_name(config, t) for t in domain.TARGETS)})"
        )
    number = str(found.version)
    with champions.decision_lock(config):
        in_force = champions.champion_pair(client, config)
        who, when = _who(), _now()
        tags = {
            "promoted_by_override": who,
            "override_reason": reason.strip(),
            "override_at": when,
            "override_previous_champion": in_force.versions.get(target_name, ""),
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, number, key, value)
        client.set_registered_model_tag(name, "last_override", f"v{number} by {who} at {when}: {reason.strip()}")
        return champions.put_in_force(
            client, config, {**in_force.versions, target_name: number}, made_by="promote",
            reason=f"{target_name} v{number} by {who}: {reason.strip()}", run_id=found.run_id or "",
        )


def rollback(config: Config, reason: str, to: str | None = None) -> champions.ChampionPair:
    """Put an earlier pair back in force as a whole: pair record `to`, else the pair in force before the current
    one. Recorded as a new pair record (made_by rollback) with who and why. Returns the pair now in force."""
    if not reason or not reason.strip():
        raise InputError("rollback needs a reason: say why the pair in force should be replaced")
    _, client, _ = _prepare(config)
    with champions.decision_lock(config):
        in_force = champions.champion_pair(client, config)
        if to is None:
            if in_force.number is None or not in_force.previous:
                raise InputError(
                    f"no earlier pair to roll back to (in force: {in_force.words() or 'nothing'}); see partner-churn models pairs"
                )
            to = in_force.previous
        earlier = champions.pair_record(client, config, to)
        return champions.put_in_force(
            client, config, earlier.versions, made_by="rollback", reason=f"back to pair {earlier.number} by {_who()}: {reason.strip()}"
        )


def load_model(config: Config, name: str, version: str | None = None) -> tuple[TrainedModel, str]:
    """The `champion` of a registered model (or a given version number or alias) and its version.

    The model files are read straight from the registered artifacts, without unpickling the wrapper.
    """
    _, client, _ = _prepare(config)
    found = _resolve(client, name, _version_ref(version) if version else CHAMPION, config)
    number = str(found.version)
    with tempfile.TemporaryDirectory(prefix="partner-churn-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{number}", dst_path=scratch))
        try:
            flavor = Model.load(str(local / "MLmodel")).flavors["python_function"]
            folder = local / flavor["artifacts"]["model"]["path"]
        except (KeyError, OSError, MlflowException) as exc:
            raise InputError(
                f"registered model '{name}' version {number} is not a partner-churn model (no 'model' artifact: {exc})"
            ) from None
        try:
            return TrainedModel.load(folder), number
        except DamagedModelError as exc:
            raise DamagedModelError(
                f"registered model '{name}' version {number} cannot be loaded: {exc}; retrain, or promote or pin a version that loads"
            ) from None


def resolve_version(config: Config, name: str, version: str | None = None) -> str:
    """The version number `load_model` would load (the champion unless `version` says otherwise)."""
    _, client, _ = _prepare(config)
    return str(_resolve(client, name, _version_ref(version) if version else CHAMPION, config).version)


def describe_version(config: Config, name: str, number: str) -> dict[str, Any]:
    """What a service says about the model it serves: version, aliases, when and from which run it was
    trained, and its backtest metrics next to the baselines' (the run's `<target>.<scorer>.<metric>`)."""
    _, client, _ = _prepare(config)
    version = client.get_model_version(name, number)
    tags = dict(version.tags)
    target = tags.get("target", "")
    metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
    backtest: dict[str, dict[str, float]] = {}
    for key, value in sorted(metrics.items()):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == target:
            backtest.setdefault(parts[1], {})[parts[2]] = float(value)
    return {
        "name": name,
        "version": str(version.version),
        "aliases": sorted(getattr(version, "aliases", []) or []),
        "target": target,
        "trained_at": tags.get("trained_at", ""),
        "trained_through": tags.get("trained_through", ""),
        "run_id": version.run_id,
        "backtest": backtest,
    }


def _version_ref(version: str) -> str:
    """'3', 'v3' -> '3'; anything else is taken as an alias."""
    text = str(version).strip()
    if text[:1].lower() == "v" and text[1:].isdigit():
        return text[1:]
    return text


def _resolve(client: MlflowClient, name: str, ref: str, config: Config) -> ModelVersion:
    """A version by number or alias, or InputError saying what exists."""
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        if not is_not_found(exc):
            raise
        raise InputError(
            f"no registered model '{name}': partner-churn train registers it, or says why the data cannot train it"
        ) from None
    if ref.isdigit():
        try:
            return client.get_model_version(name, ref)
        except MlflowException as exc:
            if not is_not_found(exc):
                raise
            known = sorted(int(v.version) for v in client.search_model_versions(f"name = '{quote_name(name)}'"))
            raise InputError(
                f"registered model '{name}' has no version {ref} (versions: {', '.join(map(str, known)) or 'none'})"
            ) from None
    if ref == CHAMPION:
        target = target_of_model(name, config)
        number = champions.champion_pair(client, config).versions.get(target or "")
        found = client.get_model_version(name, number) if number else None
    else:
        found = alias_version(client, name, ref)
    if found is None:
        if ref == CHAMPION:
            versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{quote_name(name)}'"))
            if versions:
                latest = versions[-1]
                raise InputError(
                    f"registered model '{name}' has no champion: v{latest} stays challenger (the gate refused it; see "
                    f"partner-churn models list); make it champion deliberately with partner-churn promote {name} {latest} "
                    f"--reason '...', or score with {_pin_words(name, str(latest), config)}"
                )
            raise InputError(f"no registered model '{name}' has alias 'champion': run partner-churn train first")
        known = ", ".join(f"{alias} -> v{v}" for alias, v in sorted(registered.aliases.items())) or "none"
        raise InputError(f"registered model '{name}' has no alias '{ref}' (aliases: {known})")
    return found


def _pin_words(name: str, version: str, config: Config) -> str:
    target = target_of_model(name, config)
    return pin_option(target, version) if target else f"--model-version {version}"


# --------------------------------------------------------------------------------------------------
# Small helpers


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(float(value)):
        return ""
    return f"{float(value):.6f}"


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None or isinstance(value, pd.Timestamp)


def _tag_value(value: object) -> str:
    return "" if value is None else str(value)[:5000]


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
