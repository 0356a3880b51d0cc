"""What a training run's procedure is: its settings as flat params, the hashes that say when two runs'
procedures (and labels) are the same, its folds, and a logged run's settings read back to re-run them.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from importlib import metadata
from pathlib import Path

import mlflow.artifacts
import yaml
from mlflow import MlflowClient
from pydantic import BaseModel, ValidationError

from partner_churn.config import Config, describe_errors
from partner_churn.errors import InputError
from training.result import TrainingResult

LOGGED_CONFIG_SECTIONS = ("data", "labels", "features", "segments", "training")
"""Config sections logged as run params; paths, serving and monitoring do not shape a model."""
PROCEDURE_SECTIONS = ("data", "labels", "features", "segments", "training")
"""Config sections that make the procedure (with the code): what a champion's procedure is re-run with
(`data` too: its event types, attributes and mappings shape the features)."""
NOT_PROCEDURE = (
    "training.experiment_name",
    "training.risk_model_name",
    "training.potential_model_name",
    "training.pair_model_name",
    "training.promotion_min_gain_over_recency",
    "training.promotion_max_loss_vs_champion",
)
"""Keys of those sections that name things or set the gate: they do not change what the folds measure."""
LABEL_SECTIONS = ("labels", "segments")
"""What defines the labels and the populations a figure is computed on: figures are comparable only when equal."""
RENAMED_KEYS = {("training", "backtest_cutoffs"): "backtest_folds"}
"""Keys renamed since a run was logged, so an older champion's settings still load (and are re-run as folds)."""


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


def procedure_config(client: MlflowClient, run_id: str, config: Config) -> Config:
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


def _package_version() -> str:
    try:
        return metadata.version("partner-churn")
    except metadata.PackageNotFoundError:
        return "unknown"
