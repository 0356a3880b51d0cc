"""The measured actions in MLflow: one run per `partner-churn effects`, one registered model
(`effects.uplift_model_name`) whose alias `champion` is what scoring proposes measured actions by.

Logged: the effects table (`effects.csv`), each action's out-of-time evaluation as metrics
(`uplift.<action>.qini`, `.qini_low`, `.qini_high`, `.uplift_at_<k>`, `.effect`) and tags (`.beats_random`),
and the measured actions as a pyfunc ("model from code", like the risk and potential models) whose files are
`MeasuredActions.save`'s. The gate is the uplift's own: a version is registered and made champion only when
at least one action beats random targeting out of time; otherwise the run is logged and the champion alias,
if any, is removed: the latest measurement says no action can be targeted, and the scoring goes back to the
action table.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema

from partner_churn.config import Config
from partner_churn.errors import InputError
from training.champions import CHAMPION
from training.registry.pyfunc import pip_requirements
from training.registry.tags import figure_tag, utc_now
from training.registry.tracking import connect
from training.store import alias_version
from training.uplift import MeasuredActions

MEASURED_MODEL_CODE = (
    '"""MLflow model from code: partner-churn\'s measured actions; their files come as the artifact `measured`."""\n'
    "import mlflow\n"
    "from training.registry.uplift import MeasuredActionsModel\n"
    "mlflow.models.set_model(MeasuredActionsModel())\n"
)


def mlflow_key(text: str) -> str:
    """An action code as part of an MLflow metric or tag name (letters, digits, '_' and '-'; the rest '_'): the
    code is the log's own text."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


class MeasuredActionsModel(PythonModel):
    """MLflow pyfunc around `MeasuredActions`: a frame of features in, one uplift column per measured action."""

    measured: MeasuredActions

    def load_context(self, context: PythonModelContext) -> None:
        self.measured = MeasuredActions.load(Path(context.artifacts["measured"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return pd.DataFrame({f"uplift.{action}": model.uplift(frame) for action, model in self.measured.models.items()}, index=frame.index)


def log_measured_actions(measured: MeasuredActions, *, config: Config, as_of: pd.Timestamp) -> tuple[str, str | None]:
    """Log one effects run; register and promote the measured actions when any beats random. Returns the run
    id and the new champion version (None when nothing was registered)."""
    _, client, experiment_id = connect(config)
    name = config.effects.uplift_model_name
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"effects {as_of:%Y-%m-%d}") as run:
        run_id = run.info.run_id
        mlflow.set_tags({"partner_churn.kind": "effects", "partner_churn.as_of": as_of.isoformat(), "measured_through": measured.measured_through})
        mlflow.log_text(measured.effects.to_csv(index=False), "effects.csv")
        mlflow.log_text(json.dumps(measured.evaluations, indent=2, default=str), "evaluations.json")
        metrics: dict[str, float] = {}
        for record in measured.evaluations:
            prefix = f"uplift.{mlflow_key(str(record['action']))}"
            for key in ("qini", "qini_low", "qini_high", "effect"):
                metrics[f"{prefix}.{key}"] = float(record[key])
            for share, value in dict(record["uplift_at"]).items():
                metrics[f"{prefix}.uplift_at_{share}"] = float(value)
            mlflow.set_tag(f"{prefix}.beats_random", str(bool(record["beats_random"])).lower())
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN (an empty top slice) is not logged
        if not measured.models:
            # The latest evidence says no action can be targeted: an earlier champion no longer stands.
            if alias_version(client, name, CHAMPION) is not None:
                client.delete_registered_model_alias(name, CHAMPION)
            mlflow.set_tag("gate", "no action's uplift beats random targeting out of time: nothing registered, no measured actions in force")
            return run_id, None
        with tempfile.TemporaryDirectory(prefix="partner-churn-measured-") as scratch:
            folder = Path(scratch) / "measured"
            measured.save(folder)
            loader = Path(scratch) / "measured_actions_model.py"
            loader.write_text(MEASURED_MODEL_CODE)
            info = mlflow.pyfunc.log_model(
                name="measured_actions",
                python_model=str(loader),
                artifacts={"measured": str(folder)},
                signature=_signature(measured),
                pip_requirements=pip_requirements(),
            )
        tags = {"run_id": run_id, "actions": ",".join(sorted(measured.models)), "measured_through": measured.measured_through}
        version = mlflow.register_model(info.model_uri, name, tags=tags)
        number = str(version.version)
        client.set_registered_model_alias(name, CHAMPION, number)
        client.set_model_version_tag(name, number, "gate_at", utc_now())
        for record in measured.evaluations:
            client.set_model_version_tag(name, number, f"qini.{mlflow_key(str(record['action']))}", figure_tag(float(record["qini"])))
        mlflow.set_tag("gate", f"{name} v{number} champion: {', '.join(sorted(measured.models))} beat random targeting out of time")
    return run_id, number


def _signature(measured: MeasuredActions) -> ModelSignature:
    """Features in (text for categorical attributes, numbers otherwise), one uplift column per action out."""
    names: dict[str, str] = {}
    for model in measured.models.values():
        for name in model.features:
            names.setdefault(name, "string" if name in model.categories else "double")
    inputs = Schema([ColSpec(kind, name, required=False) for name, kind in names.items()])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", f"uplift.{action}") for action in sorted(measured.models)]))


def measured_champion_version(config: Config) -> str | None:
    """The version of the measured actions in force (None: none registered, or no champion): one registry read."""
    _, client, _ = connect(config)
    found = alias_version(client, config.effects.uplift_model_name, CHAMPION)
    return None if found is None else str(found.version)


def load_measured_actions(config: Config) -> tuple[MeasuredActions, str] | None:
    """The champion measured actions and their version; None when none was ever registered (the rules choose)."""
    _, client, _ = connect(config)
    name = config.effects.uplift_model_name
    found = alias_version(client, name, CHAMPION)
    if found is None:
        return None
    number = str(found.version)
    with tempfile.TemporaryDirectory(prefix="partner-churn-measured-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{number}", dst_path=scratch))
        try:
            folder = local / Model.load(str(local / "MLmodel")).flavors["python_function"]["artifacts"]["measured"]["path"]
        except (KeyError, OSError, MlflowException) as exc:
            raise InputError(f"registered model '{name}' version {number} holds no measured actions ({exc})") from None
        return MeasuredActions.load(folder), number
