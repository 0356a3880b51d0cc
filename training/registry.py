"""MLflow tracking and model registry of partner-churn: log a training run, gate promotion, load the champion.

The embedded default is a SQLite store (`sqlite:///work/mlflow.db`) with artifacts under
`paths.mlflow_artifacts_dir`; a team points `MLFLOW_TRACKING_URI` at a tracking server instead. The
registry lives in the same store as the runs.

Each target's model is registered under its own name (`training.risk_model_name`,
`training.potential_model_name`) as an MLflow pyfunc that wraps `TrainedModel`, so every consumer of
the registry (this module, `mlflow models serve`, the service) gets calibrated probabilities, never the
0/1 labels MLflow's LightGBM flavour would return.

Aliases are the only thing that decides what is served: `champion` is moved by `apply_gate` (after a run
was logged completely) or by a deliberate `promote`; a version the gate refused gets `challenger`.
Nothing here touches MLflow or the disk at import time; every public function configures the tracking
URI from the config it is given.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import math
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.types import ColSpec, Schema
from pydantic import BaseModel
from sklearn.metrics import roc_auc_score

from partner_churn import domain
from partner_churn.domain import target_of_model
from partner_churn.config import Config, pin_option, render_yaml
from partner_churn.errors import InputError
from training import plots
from training.model import LABEL_OF, Target, TrainedModel
from training.result import TrainingResult

CHAMPION = "champion"
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
        _sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
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
    except MlflowException as exc:
        raise InputError(f"MLflow tracking URI {uri}: {_first_line(exc)}") from exc
    return uri, client, experiment_id


def _sqlite_path(uri: str) -> Path:
    """File of a `sqlite:///relative.db` or `sqlite:////absolute.db` URI (query string dropped)."""
    rest = uri.split(":", 1)[1].split("?", 1)[0]
    if not rest.startswith("///"):
        raise InputError(f"MLflow tracking URI {uri}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return Path(rest[3:])


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
    backtest metrics per target and scorer, `backtest.csv`, `feature_schema.json`,
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


def config_params(config: Config) -> dict[str, str]:
    """The model-shaping config sections as flat `section.key` params (lists and mappings as JSON)."""
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

    for section in LOGGED_CONFIG_SECTIONS:
        walk(section, getattr(config, section))
    return params


def backtest_metrics(backtest: pd.DataFrame) -> dict[str, float]:
    """`<target>.<scorer>.<metric>` for the all-cutoffs, all-segments rows; missing values left out."""
    whole = backtest[(backtest["cutoff"].astype(str) == "all") & (backtest["segment"].astype(str) == "all")]
    metrics: dict[str, float] = {}
    for row in whole.itertuples(index=False):
        for metric in BACKTEST_METRICS:
            value = getattr(row, metric, None)
            if value is not None and pd.notna(value) and math.isfinite(float(value)):
                metrics[f"{row.target}.{row.scorer}.{metric}"] = float(value)
    return metrics


def _version_tags(result: TrainingResult, target: str, model: TrainedModel, run_id: str) -> dict[str, str]:
    return {
        "target": target,
        "run_id": run_id,
        "backtest_roc_auc": _fmt(result.model_auc.get(target)),
        "baseline_roc_auc": _fmt(result.primary_baseline_auc.get(target)),
        "trained_at": model.trained_at,
        "trained_through": model.trained_through,
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
    """Backtest ROC-AUC of the new version (all cutoffs)."""
    baseline_auc: float
    """Backtest ROC-AUC of the target's gate baseline on the same rows."""
    champion_version: str | None
    """The champion before this decision; None if there was none."""
    champion_auc: float | None
    """That champion's ROC-AUC on this run's backtest rows."""


def apply_gate(result: TrainingResult, versions: Mapping[str, str], *, config: Config) -> list[GateDecision]:
    """Give each new version the alias `champion` if it earns it, else `challenger`.

    Promoted when its backtest ROC-AUC beats the gate baseline by `training.promotion_min_gain_over_recency`
    and is at most `training.promotion_max_loss_vs_champion` below the current champion's ROC-AUC on
    the same backtest rows (the champion is loaded from the registry and scores them). A champion that
    cannot score these rows (say the feature schema changed) blocks automatic promotion: compare by
    hand and use `promote`. The decision is written as tags on the version and on its run.
    """
    _, client, _ = _prepare(config)
    gate = config.training
    decisions = []
    for target in result.models:
        if target not in versions:
            raise InputError(f"no registered version given for {target}; log the run first (log_training_run)")
        name = model_name(config, target)
        version = str(versions[target])
        new_auc = float(result.model_auc[target])
        baseline_auc = float(result.primary_baseline_auc[target])
        baseline = _baseline_words(result, target)
        champion = _alias_version(client, name, CHAMPION)
        if champion is not None and str(champion.version) == version:
            champion = None  # the gate is re-applied to the version that already holds the alias
        champion_version = None if champion is None else str(champion.version)
        champion_auc: float | None = None
        champion_problem = ""
        if champion is not None:
            try:
                champion_model, _ = load_model(config, name, champion_version)
                champion_auc = roc_auc_on(champion_model, result.backtest_rows[target], target)
            except (InputError, KeyError, OSError, MlflowException) as exc:
                champion_problem = _first_line(exc)
            if champion_auc is not None and not math.isfinite(champion_auc):
                champion_problem = "its ROC-AUC is undefined on these rows (one class only)"

        gain = new_auc - baseline_auc
        if gain + _GAIN_EPSILON < gate.promotion_min_gain_over_recency:
            relation = f"only {gain:.3f} above" if gain >= 0 else f"{-gain:.3f} below"
            promoted = False
            reason = (
                f"ROC-AUC {new_auc:.3f} is {relation} {baseline}'s {baseline_auc:.3f}; "
                f"the gate needs +{gate.promotion_min_gain_over_recency:.3f}"
            )
        elif champion is not None and champion_problem:
            promoted = False
            reason = (
                f"ROC-AUC {new_auc:.3f} beats {baseline}'s {baseline_auc:.3f}, but the current champion "
                f"v{champion_version} could not be scored on this run's backtest rows ({champion_problem}); "
                "compare by hand and use promote"
            )
        elif champion is not None and new_auc + _GAIN_EPSILON < champion_auc - gate.promotion_max_loss_vs_champion:
            promoted = False
            reason = (
                f"ROC-AUC {new_auc:.3f} is below the current champion v{champion_version}'s {champion_auc:.3f} "
                f"on the same backtest rows; the gate allows a loss of at most {gate.promotion_max_loss_vs_champion:.3f}"
            )
        else:
            promoted = True
            versus = (
                "there was no champion"
                if champion is None
                else f"the current champion v{champion_version} scores {champion_auc:.3f} on the same rows"
            )
            reason = (
                f"ROC-AUC {new_auc:.3f} beats {baseline}'s {baseline_auc:.3f} by {gain:.3f} "
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
        )
        _record_decision(client, decision)
        decisions.append(decision)
    return decisions


def roc_auc_on(model: TrainedModel, rows: pd.DataFrame, target: str) -> float:
    """ROC-AUC of a model on labelled rows; NaN when the rows hold one class only."""
    labelled = rows[rows[LABEL_OF[target]].notna()]
    label = labelled[LABEL_OF[target]].to_numpy(float)
    if np.unique(label).size < 2:
        return float("nan")
    return float(roc_auc_score(label, model.predict(labelled)))


def _baseline_words(result: TrainingResult, target: str) -> str:
    """'the recency rule', 'the logistic rfm' ...: the baseline scorer whose ROC-AUC the gate compares to."""
    auc = result.primary_baseline_auc[target]
    whole = result.backtest[
        (result.backtest["target"] == target)
        & (result.backtest["cutoff"].astype(str) == "all")
        & (result.backtest["segment"].astype(str) == "all")
        & ~result.backtest["scorer"].isin(["model", "oracle"])
    ]
    if not whole.empty:
        closest = whole.iloc[(whole["roc_auc"] - auc).abs().argsort()[:1]]
        if abs(float(closest["roc_auc"].iloc[0]) - auc) < 1e-9:
            scorer = str(closest["scorer"].iloc[0])
            return BASELINE_WORDS.get(scorer, "the " + scorer.replace("_", " "))
    return "the baseline"


BASELINE_WORDS = {"btyd": "the BG/NBD model", "logistic_rfm": "the logistic RFM", "recency_rule": "the recency rule"}
"""How a decision names the baseline it was judged against."""


def _record_decision(client: MlflowClient, decision: GateDecision) -> None:
    """Tags first, alias last: the alias is the decision's commit point."""
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
    client.set_registered_model_alias(decision.name, CHAMPION if decision.promoted else CHALLENGER, decision.version)


# --------------------------------------------------------------------------------------------------
# Registry views and deliberate actions


def list_models(config: Config) -> pd.DataFrame:
    """Every registered version of the two models: name, version, aliases, target, backtest_roc_auc,
    trained_through (the newest label its model learned from), created, run_id."""
    _, client, _ = _prepare(config)
    rows = []
    for name in (config.training.risk_model_name, config.training.potential_model_name):
        try:
            registered = client.get_registered_model(name)
        except MlflowException as exc:
            if _is_not_found(exc):
                continue
            raise
        aliases_of: dict[str, list[str]] = {}
        for alias, version in registered.aliases.items():
            aliases_of.setdefault(str(version), []).append(alias)
        for version in client.search_model_versions(f"name = '{_quote(name)}'"):
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


def promote(config: Config, name: str, version: str, reason: str) -> None:
    """Make a version `champion` by hand, overriding the gate; who, why and when are recorded as tags."""
    if not reason or not reason.strip():
        raise InputError("promote needs a reason: say why this version should override the gate")
    _, client, _ = _prepare(config)
    target = _resolve(client, name, _version_ref(version), config)
    number = str(target.version)
    previous = _alias_version(client, name, CHAMPION)
    who, when = _who(), _now()
    tags = {
        "promoted_by_override": who,
        "override_reason": reason.strip(),
        "override_at": when,
        "override_previous_champion": "" if previous is None else str(previous.version),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, number, key, value)
    client.set_registered_model_tag(name, "last_override", f"v{number} by {who} at {when}: {reason.strip()}")
    client.set_registered_model_alias(name, CHAMPION, number)


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
        return TrainedModel.load(folder), number


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
        if not _is_not_found(exc):
            raise
        raise InputError(
            f"no registered model '{name}': partner-churn train registers it, or says why the data cannot train it"
        ) from None
    if ref.isdigit():
        try:
            return client.get_model_version(name, ref)
        except MlflowException as exc:
            if not _is_not_found(exc):
                raise
            known = sorted((int(v.version) for v in client.search_model_versions(f"name = '{_quote(name)}'")))
            raise InputError(
                f"registered model '{name}' has no version {ref} (versions: {', '.join(map(str, known)) or 'none'})"
            ) from None
    found = _alias_version(client, name, ref)
    if found is None:
        if ref == CHAMPION:
            versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{_quote(name)}'"))
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


def _alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if _is_not_found(exc):
            return None
        raise


def _is_not_found(exc: MlflowException) -> bool:
    # A missing alias is INVALID_PARAMETER_VALUE on the SQL store, RESOURCE_DOES_NOT_EXIST elsewhere.
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


# --------------------------------------------------------------------------------------------------
# Small helpers


def _quote(name: str) -> str:
    return name.replace("'", "\\'")


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
