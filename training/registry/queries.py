"""Reading the registry: every version of the two models, a version by number or alias (the champion by
default), its model files and what a service says about it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlflow.artifacts
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model

from partner_churn.config import Config, pin_option
from partner_churn.domain import target_of_model
from partner_churn.errors import DamagedModelError, InputError
from training import champions
from training.champions import CHAMPION
from training.model import TrainedModel
from training.registry.tracking import connect
from training.store import alias_version, is_not_found, quote_name


def list_models(config: Config) -> pd.DataFrame:
    """Every registered version of the two models: name, version, aliases, target, backtest_roc_auc,
    trained_through (the newest label its model learned from), created, run_id. `champion` among the
    aliases is the pair in force (not the per-target mirror, which may lag it)."""
    _, client, _ = connect(config)
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
        if target is not None and target in in_force.versions:
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


def load_model(config: Config, name: str, version: str | None = None) -> tuple[TrainedModel, str]:
    """The `champion` of a registered model (or a given version number or alias) and its version.

    The model files are read straight from the registered artifacts, without unpickling the wrapper.
    """
    _, client, _ = connect(config)
    found = resolve(client, name, version_ref(version) if version else CHAMPION, config)
    number = str(found.version)
    with tempfile.TemporaryDirectory(prefix="partner-churn-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{number}", dst_path=scratch))
        try:
            flavor = Model.load(str(local / "MLmodel")).flavors["python_function"]
            folder = local / flavor["artifacts"]["model"]["path"]
        except (KeyError, OSError, MlflowException) as exc:
            raise InputError(f"registered model '{name}' version {number} is not a partner-churn model (no 'model' artifact: {exc})") from None
        try:
            return TrainedModel.load(folder), number
        except DamagedModelError as exc:
            raise DamagedModelError(
                f"registered model '{name}' version {number} cannot be loaded: {exc}; retrain, or promote or pin a version that loads"
            ) from None


def resolve_version(config: Config, name: str, version: str | None = None) -> str:
    """The version number `load_model` would load (the champion unless `version` says otherwise)."""
    _, client, _ = connect(config)
    return str(resolve(client, name, version_ref(version) if version else CHAMPION, config).version)


def describe_version(config: Config, name: str, number: str) -> dict[str, Any]:
    """What a service says about the model it serves: version, aliases, when and from which run it was
    trained, and its backtest metrics next to the baselines' (the run's `<target>.<scorer>.<metric>`)."""
    _, client, _ = connect(config)
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


def version_ref(version: str) -> str:
    """'3', 'v3' -> '3'; anything else is taken as an alias."""
    text = str(version).strip()
    if text[:1].lower() == "v" and text[1:].isdigit():
        return text[1:]
    return text


def resolve(client: MlflowClient, name: str, ref: str, config: Config) -> ModelVersion:
    """A version by number or alias, or InputError saying what exists."""
    try:
        registered = client.get_registered_model(name)
    except MlflowException as exc:
        if not is_not_found(exc):
            raise
        raise InputError(f"no registered model '{name}': partner-churn train registers it, or says why the data cannot train it") from None
    if ref.isdigit():
        try:
            return client.get_model_version(name, ref)
        except MlflowException as exc:
            if not is_not_found(exc):
                raise
            known = sorted(int(v.version) for v in client.search_model_versions(f"name = '{quote_name(name)}'"))
            raise InputError(f"registered model '{name}' has no version {ref} (versions: {', '.join(map(str, known)) or 'none'})") from None
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
        aliases = ", ".join(f"{alias} -> v{v}" for alias, v in sorted(registered.aliases.items())) or "none"
        raise InputError(f"registered model '{name}' has no alias '{ref}' (aliases: {aliases})")
    return found


def _pin_words(name: str, version: str, config: Config) -> str:
    target = target_of_model(name, config)
    return pin_option(target, version) if target else f"--model-version {version}"
