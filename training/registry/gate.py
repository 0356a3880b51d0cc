"""The promotion gate: a new version goes into force only when its procedure beats the best baseline by a
margin and is not worse than the champion's procedure judged on the same folds of the same data.

A promoted version goes into force with the pair's other targets as they were (`champions.put_in_force`);
a refused one gets the alias `challenger`. Every decision is written as tags on the version and its run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from partner_churn.config import Config
from partner_churn.domain import Target
from partner_churn.errors import InputError
from training import champions
from training.backtest import SPREAD, fold_figures, gate_baseline, headline
from training.champions import CHAMPION
from training.registry.procedure import fold_tests, label_definition_id, procedure_config, procedure_id
from training.registry.runs import model_name
from training.registry.tags import figure_tag, utc_now
from training.registry.tracking import connect, first_line
from training.result import TrainingResult

CHALLENGER = "challenger"
_GAIN_EPSILON = 1e-12
"""Absorbs float noise, so an AUC exactly at the required gain passes the gate."""
BASELINE_WORDS = {
    "btyd": "the BG/NBD model",
    "logistic_rfm": "the logistic RFM",
    "recency_rule": "the recency rule",
    "revenue_momentum": "the revenue momentum rule",
}
"""How a decision names the baseline it was judged against."""
FIGURE_WORDS = {
    "deactivation_risk": "the folds' mean ROC-AUC",
    "upgrade_potential": "the folds' mean ROC-AUC on partners no tenure threshold reaches within the horizon",
}
"""How a decision names the figure it judges (upgrade potential without the mechanical, tenure-driven upgrades)."""


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


def apply_gate(result: TrainingResult, versions: Mapping[str, str], *, config: Config, rerun: Rerun | None = None) -> list[GateDecision]:
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
    _, client, _ = connect(config)
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
            ours_on_common, champion_auc, basis, champion_problem = _champion_procedure(client, champion, result, target, config, rerun, reruns)

        gain = new_auc - baseline_auc
        folds = len(result.fold_origins)
        if not math.isfinite(new_auc):
            promoted = False
            reason = f"{FIGURE_WORDS[target]} is undefined over these {folds} folds (a fold holds one class only); nothing to judge it by"
        elif not math.isfinite(baseline_auc) or gain + _GAIN_EPSILON < gate.promotion_min_gain_over_recency:
            relation = (
                "cannot be compared with a baseline"
                if not math.isfinite(baseline_auc)
                else (f"only {gain:.3f} above" if gain >= 0 else f"{-gain:.3f} below")
            )
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
        elif (
            champion is not None and champion_auc is not None and ours_on_common + _GAIN_EPSILON < champion_auc - gate.promotion_max_loss_vs_champion
        ):
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


def _on_common(ours: float, overall: float) -> str:
    """The challenger's figure on the folds both procedures could be judged on, when it differs from its overall one."""
    return "" if abs(ours - overall) < 1e-12 else f" (this run: {ours:.3f} on the folds both have)"


def _champion_procedure(
    client: MlflowClient,
    champion: ModelVersion,
    result: TrainingResult,
    target: Target,
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
    if (
        tags.get("data_sha256") == result.fingerprint.get("sha256")
        and same_folds
        and tags.get("label_definition") == label_definition_id(result.config)
    ):
        return _compared(ours, _json_or_empty(tags.get("fold_roc_auc", ""), float), "its own folds on this same data")
    if rerun is None:
        return result.model_auc[target], None, "", "its settings differ from this run's and there is no data here to re-run them on"
    run_id = champion.run_id or ""
    if run_id not in reruns:
        try:
            champion_config = procedure_config(client, run_id, config)
            if label_definition_id(champion_config) != label_definition_id(result.config):
                reruns[run_id] = "it predicts a differently defined label (its labels.* or segments.* settings differ)"
            else:
                reruns[run_id] = rerun(champion_config)
        except (InputError, MlflowException, OSError) as exc:
            reruns[run_id] = first_line(exc)
    found = reruns[run_id]
    if isinstance(found, str):
        return result.model_auc[target], None, "", found
    theirs = fold_figures(found.backtest, target, "model")
    if not theirs:
        return result.model_auc[target], None, "", found.not_trained.get(target, "its procedure trains no model of this target on this data")
    if fold_tests(found) != fold_tests(result):
        return (
            result.model_auc[target],
            None,
            "",
            f"its settings put the folds at {', '.join(sorted(theirs))}, this run's at {', '.join(sorted(ours))}",
        )
    return _compared(ours, theirs, "its settings re-run on these folds")


def _compared(ours: dict[str, float], theirs: dict[str, float], basis: str) -> tuple[float, float | None, str, str]:
    """Both means on the shared folds, with the basis; a problem instead when no fold has both figures."""
    mine, champion = means_on_shared_folds(ours, theirs)
    if champion is None:
        return mine, None, "", "no fold has a defined ROC-AUC for both procedures"
    return mine, champion, basis, ""


def means_on_shared_folds(ours: dict[str, float], theirs: dict[str, float]) -> tuple[float, float | None]:
    """Both means over the folds where both figures are defined (None for the champion when there is none)."""
    shared = [o for o in ours if o in theirs and math.isfinite(ours[o]) and math.isfinite(theirs[o])]
    if not shared:
        return float(np.nanmean(list(ours.values()))) if ours else float("nan"), None
    return float(np.mean([ours[o] for o in shared])), float(np.mean([theirs[o] for o in shared]))


def _json_or_empty(text: str, kind: type) -> dict[str, Any]:
    """A tag's JSON mapping with values of `kind`; {} when missing or unreadable."""
    try:
        value = json.loads(text) if text else {}
        return {str(k): kind(v) for k, v in value.items()} if isinstance(value, dict) else {}
    except (json.JSONDecodeError, TypeError, ValueError):
        return {}


def _record_decision(client: MlflowClient, decision: GateDecision) -> None:
    """The decision as tags on the version and its run; a refused version also gets the alias `challenger`
    (a promoted one goes into force with its pair, in `apply_gate`)."""
    now = utc_now()
    version_tags = {
        "gate_decision": CHAMPION if decision.promoted else CHALLENGER,
        "gate_reason": decision.reason,
        "gate_at": now,
        "gate_champion_version": decision.champion_version or "",
        "gate_champion_auc": figure_tag(decision.champion_auc),
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
