"""The champion pair: which version of each target's model is in force, put in force as one unit.

The two models a run trains are promoted, rolled back and served together. The registered model
`training.pair_model_name` keeps one version per decision (a *pair record*): tagged with each target's
model version (`deactivation_risk`, `upgrade_potential`; a target without a champion has no tag), who made
it (`made_by`: gate, promote, rollback), why, when, from which run, and the pair in force before it. Its
alias `champion` is the one write that puts a pair in force: a process killed before that write leaves
the previous pair in force, after it the new one; never one model of each.

The per-target `champion` aliases are a mirror for MLflow's own tools (`models:/NAME@champion`), moved
after the pair record, so they may lag it for a moment (or, after a crash there, until the next decision);
partner-churn reads only the pair. A store trained before pair records existed is read from those
per-target aliases until its first decision writes a pair.

Decisions on one local store are serialised by a lock beside the SQLite file (`decision_lock`): two
`train` runs at once judge and commit one after the other, each against the pair the other left.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from partner_churn.config import Config
from partner_churn.domain import TARGETS, model_name
from partner_churn.errors import InputError
from partner_churn.locks import process_lock
from training.store import alias_version, is_not_found, quote_name, sqlite_path

CHAMPION = "champion"
MADE_BY = ("gate", "promote", "rollback")
DECISION_WAIT_SECONDS = 900.0
"""How long a decision waits for another one on the same store (a gate may re-run a champion's procedure)."""


@dataclass(frozen=True)
class ChampionPair:
    """The versions in force, one per target that has a champion, and the record that put them in force."""

    versions: Mapping[str, str] = field(default_factory=dict)
    """Target -> version of its registered model; a target without a champion is absent."""
    number: str | None = None
    """The pair record's version; None when there is none (no decision yet, or a store older than pair records)."""
    made_by: str = ""
    reason: str = ""
    at: str = ""
    run_id: str = ""
    previous: str = ""
    """The pair record in force before this one ('' for the first)."""

    def words(self) -> str:
        """e.g. 'pair 4: deactivation_risk v3, upgrade_potential v2'."""
        body = ", ".join(f"{t} v{self.versions[t]}" if t in self.versions else f"{t} none" for t in TARGETS)
        return f"pair {self.number}: {body}" if self.number else body


def pair_record_name(config: Config) -> str:
    return config.training.pair_model_name


def champion_pair(client: MlflowClient, config: Config) -> ChampionPair:
    """The pair in force, read in one call (its record's `champion` alias); the per-target aliases of a store
    without pair records; an empty pair when nothing was ever promoted."""
    record = alias_version(client, pair_record_name(config), CHAMPION)
    if record is not None:
        _check_names(record, config)
        return _pair_of(record)
    legacy: dict[str, str] = {}
    for target in TARGETS:
        version = alias_version(client, model_name(target, config), CHAMPION)
        if version is not None:
            legacy[target] = str(version.version)
    return ChampionPair(versions=legacy)


def put_in_force(client: MlflowClient, config: Config, versions: Mapping[str, str], *, made_by: str, reason: str, run_id: str = "") -> ChampionPair:
    """Record `versions` as a new pair and put it in force (the alias move is the commit); then mirror it on
    the per-target `champion` aliases. Call it holding `decision_lock`."""
    if made_by not in MADE_BY:
        raise ValueError(f"made_by must be one of {MADE_BY}, not {made_by!r}")
    name = pair_record_name(config)
    before = champion_pair(client, config)
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if not is_not_found(exc):
            raise
        client.create_registered_model(
            name, description="partner-churn: each version is a pair of model versions put in force together; alias champion is the pair in force"
        )
    tags: dict[str, str] = {target: str(versions[target]) for target in TARGETS if versions.get(target)}
    tags |= {f"{target}.model": model_name(target, config) for target in TARGETS}
    tags |= {"made_by": made_by, "reason": reason, "at": _now(), "previous": before.number or ""}
    if run_id:
        tags["run_id"] = run_id
    source = "partner-churn pair: " + ", ".join(f"{t} v{v}" for t, v in tags.items() if t in TARGETS)
    record = client.create_model_version(name, source=source, run_id=run_id or None, tags=tags)
    client.set_registered_model_alias(name, CHAMPION, str(record.version))  # the commit point
    pair = _pair_of(client.get_model_version(name, str(record.version)))
    _mirror(client, config, pair)
    return pair


def pair_history(client: MlflowClient, config: Config) -> list[ChampionPair]:
    """Every pair record, newest first ([] before the first decision)."""
    try:
        found = client.search_model_versions(f"name = '{quote_name(pair_record_name(config))}'")
    except MlflowException as exc:
        if is_not_found(exc):
            return []
        raise
    return sorted((_pair_of(v) for v in found), key=lambda p: int(p.number or 0), reverse=True)


def pair_record(client: MlflowClient, config: Config, number: str) -> ChampionPair:
    """One pair record by number, or InputError listing those that exist."""
    for pair in pair_history(client, config):
        if pair.number == str(number).lstrip("v"):
            return pair
    known = ", ".join(p.number or "" for p in reversed(pair_history(client, config))) or "none"
    raise InputError(f"no pair record {number} (pairs: {known}; see partner-churn models pairs)")


def decision_lock(config: Config) -> AbstractContextManager[None]:
    """Serialise decisions (gate, promote, rollback) on a local SQLite store; a tracking server has no lock here."""
    database = sqlite_path(config.paths.mlflow_tracking_uri.strip())
    if database is None:
        return nullcontext()
    return process_lock(database.with_name(database.name + ".decisions.lock"), "promotion decision on this store", wait_seconds=DECISION_WAIT_SECONDS)


def _pair_of(record: ModelVersion) -> ChampionPair:
    tags = dict(record.tags)
    return ChampionPair(
        versions={t: tags[t] for t in TARGETS if tags.get(t)},
        number=str(record.version),
        made_by=tags.get("made_by", ""),
        reason=tags.get("reason", ""),
        at=tags.get("at", ""),
        run_id=tags.get("run_id", ""),
        previous=tags.get("previous", ""),
    )


def _check_names(record: ModelVersion, config: Config) -> None:
    """A pair record names the registered models it pairs; another config's pair is an error, not a pair."""
    theirs = {t: record.tags.get(f"{t}.model", "") for t in TARGETS}
    ours = {t: model_name(t, config) for t in TARGETS}
    if theirs != ours:
        raise InputError(
            f"the pair record '{pair_record_name(config)}' pairs {' and '.join(theirs.values())}, this config's models are "
            f"{' and '.join(ours.values())}: give this config's pair its own training.pair_model_name"
        )


def _mirror(client: MlflowClient, config: Config, pair: ChampionPair) -> None:
    """Per-target `champion` aliases where the pair says (removed from a target the pair has none for)."""
    for target in TARGETS:
        name = model_name(target, config)
        if target in pair.versions:
            client.set_registered_model_alias(name, CHAMPION, pair.versions[target])
        elif alias_version(client, name, CHAMPION) is not None:
            client.delete_registered_model_alias(name, CHAMPION)


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
