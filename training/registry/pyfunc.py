"""The MLflow pyfunc of partner-churn: `PartnerChurnModel` around `TrainedModel`, and what is logged with it
(its code, input example, signature and pinned requirements).

Every version in a store was logged as "models from code": its `MODEL_CODE` imports
`training.registry.PartnerChurnModel` when MLflow loads it, so that import path is kept by the package
(`training/registry/__init__.py`) for every version already logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema

from training.model import TrainedModel

PYFUNC_REQUIREMENTS = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy")
"""Pinned from the running environment so MLflow does not infer requirements in a subprocess."""
INPUT_EXAMPLE_ROWS = 5
MODEL_CODE = (
    '"""MLflow model from code: the partner-churn wrapper; the model files come as the artifact `model`."""\n'
    "import mlflow\n"
    "from training.registry import PartnerChurnModel\n"
    "mlflow.models.set_model(PartnerChurnModel())\n"
)
"""Logged as the pyfunc's code (MLflow "models from code"), so loading runs this instead of unpickling."""


class PartnerChurnModel(PythonModel):
    """MLflow pyfunc around `TrainedModel`: a frame of features in, calibrated probabilities out.

    The model files (`TrainedModel.save`) travel as the pyfunc artifact `model`; the pyfunc's code is
    `MODEL_CODE`, so loading needs the partner-churn package importable and unpickles nothing.
    """

    model: TrainedModel

    def load_context(self, context: PythonModelContext) -> None:
        self.model = TrainedModel.load(Path(context.artifacts["model"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """One float column named after the target (`deactivation_risk` or `upgrade_potential`)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return pd.DataFrame({self.model.target: self.model.predict(frame).astype(float)}, index=frame.index)


def input_example(model: TrainedModel, rows: pd.DataFrame, kinds: Mapping[str, str]) -> pd.DataFrame:
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


def signature(model: TrainedModel, kinds: Mapping[str, str]) -> ModelSignature:
    """Input columns typed from the feature schema (int -> long, float -> double, category -> string), output
    one double column named after the target.

    Declared rather than inferred from the example: inference would call a column optional only because
    the example happened to hold a missing value, and MLflow refuses to convert int64 to float64.
    """
    mlflow_type = {"int": "long", "float": "double", "category": "string"}
    inputs = Schema([ColSpec(mlflow_type[_column_kind(name, model, kinds)], name) for name in model.features])
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", model.target)]))


def pip_requirements() -> list[str]:
    """`PYFUNC_REQUIREMENTS` pinned to the versions installed here (unpinned when one is not installed)."""
    pinned = []
    for package in PYFUNC_REQUIREMENTS:
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            pinned.append(package)
    return pinned


def _column_kind(name: str, model: TrainedModel, kinds: Mapping[str, str]) -> str:
    if name in model.categories:
        return "category"
    return "int" if kinds.get(name) == "int" else "float"
