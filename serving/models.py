"""Which models the service answers with: loading them from the registry, and swapping in a new champion.

`ModelKeeper.current` is one immutable `ServedModels` bundle. A check (every
`serving.reload_interval_seconds`, on a background thread) reads the pair in force from the registry
(one read: `training.champions`); when it moved, the new bundle is loaded completely beside the old one
and then replaces it in one assignment. Requests in flight finish with the bundle they took; the next
ones get the new one. A failed load keeps the old bundle and is logged. With `serving.model_version`
pinned there is nothing to follow, so no check runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from features.schema import FeatureSpec, feature_names
from partner_churn.config import Config, parse_version_pins
from partner_churn.domain import TARGETS, Target, model_name, segment_revenue_feature
from partner_churn.errors import DamagedModelError, InputError
from retention.actions import load_action_table
from scoring.scores import ScoringModels
from serving.online import ServedModels
from training.champions import ChampionPair
from training.model import TrainedModel
from training.registry import champion_pair, describe_version, load_measured_actions, load_model, measured_champion_version, resolve_version
from training.uplift import MeasuredActions

logger = logging.getLogger("partner_churn.service")


def load_scoring_models(
    config: Config,
    pins: Mapping[str, str] | None = None,
    *,
    check: Callable[[str, TrainedModel], None] | None = None,
    in_force: ChampionPair | None = None,
) -> ScoringModels:
    """The pair in force (read once, or `in_force` as read by the caller), a pinned version replacing its
    target's champion. A target without a champion, or whose model `check` refuses, is left out with the
    reason, and the other still scores. An InputError when neither is left, when a pinned version cannot
    be used, or when a model's files are damaged (`DamagedModelError`)."""
    pins = pins or {}
    in_force = in_force if in_force is not None else champion_pair(config)
    loaded: dict[Target, tuple[TrainedModel, str]] = {}
    unavailable: dict[str, str] = {}
    for target in TARGETS:
        name = model_name(target, config)
        try:
            wanted = pins.get(target) or in_force.versions.get(target)
            if wanted is None:
                resolve_version(config, name)  # raises the reason there is no champion
                raise InputError(f"{name} has no champion in the pair in force ({in_force.words()})")
            model, number = load_model(config, name, wanted)
            if check is not None:
                check(target, model)
            loaded[target] = (model, number)
        except DamagedModelError:
            raise  # a broken deployment stops the scoring: the other model's half would look like a whole
        except InputError as exc:
            if target in pins:  # a version asked for by name: a typo must not quietly drop its scores
                raise
            unavailable[target] = str(exc)
    notices: dict[str, str] = {}
    for target, (_, number) in loaded.items():
        champion = in_force.versions.get(target)
        if champion != number:
            notices[target] = (
                f"{model_name(target, config)} v{number} is in use but is not the champion ({f'champion: v{champion}' if champion else 'no champion'})"
            )
    risk, risk_version = loaded.get("deactivation_risk", (None, None))
    potential, potential_version = loaded.get("upgrade_potential", (None, None))
    pair = in_force.number if in_force.number and not notices else None
    measured, measured_version = measured_actions_in_force(config)
    return ScoringModels(
        risk,
        risk_version,
        potential,
        potential_version,
        unavailable=unavailable,
        notices=notices,
        pair=pair,
        measured=measured,
        measured_version=measured_version,
    )


def measured_actions_in_force(config: Config) -> tuple[MeasuredActions | None, str | None]:
    """The measured actions in force, or (None, None): none registered yet, unreadable, or reading features this
    config does not make (both logged in one line: the action table then chooses every action, as before any
    was measured)."""
    try:
        found = load_measured_actions(config)
    except InputError as exc:
        logger.warning("measured actions not used, every action comes from the action table: %s", exc)
        return None, None
    if found is None:
        return None, None
    measured, version = found
    made = set(feature_names(config))
    unknown = sorted({name for model in measured.models.values() for name in model.features} - made)
    if unknown:
        logger.warning(
            "measured actions v%s not used, every action comes from the action table: they read %d features this config "
            "does not make (e.g. %s); run partner-churn effects again",
            version,
            len(unknown),
            ", ".join(unknown[:3]),
        )
        return None, None
    return measured, version


def load_served(config: Config, in_force: ChampionPair | None = None) -> ServedModels:
    """The registered models (champions, or `serving.model_version`) checked against this config.

    A model that is missing, reads features this config does not make (the request model would not
    match it) or carries no program snapshot (trained before the service existed) is left out with the
    reason, and the other serves on its own; InputError, in one line, only when neither is left.
    """
    expected = feature_names(config)

    def fits_this_config(target: str, model: TrainedModel) -> None:
        name = model_name(target, config)
        unknown = [f for f in model.features if f not in expected]
        if unknown:
            raise InputError(
                f"registered model '{name}' reads {len(unknown)} features this config does not make "
                f"(e.g. {', '.join(unknown[:5])}): serve it with the config it was trained with, or retrain"
            )
        if not model.program:
            raise InputError(f"registered model '{name}' carries no program snapshot (trained by an older version): retrain it")

    models = load_scoring_models(config, parse_version_pins(config.serving.model_version), check=fits_this_config, in_force=in_force)
    for model in (models.risk, models.potential):
        if model is not None:
            model.prepare_large_batches()  # a bulk request with reasons does not pay for reading the trees
    window = segment_revenue_feature(config)
    if window not in expected:
        raise InputError(f"segments.revenue_window_days needs the feature {window}: add the window to features.windows_days")
    about: dict[str, Any] = {
        target: describe_version(config, model_name(target, config), str(models.version(target)))
        if models.model(target) is not None
        else {"name": model_name(target, config), "unavailable": models.unavailable.get(target, "")}
        for target in TARGETS
    }
    return ServedModels(models=models, actions=load_action_table(config.scoring), config=config, about=about)


class ModelKeeper:
    """Holds the bundle the service answers with and follows the pair in force."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.current: ServedModels = load_served(config)
        _warn_if_old(self.current)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pins = parse_version_pins(config.serving.model_version)
        self._tried: tuple[str | None, ...] = (
            self.current.models.risk_version,
            self.current.models.potential_version,
            self.current.models.measured_version,
        )
        """The versions last loaded or tried (risk, potential, measured actions): a set that failed is not tried
        again until the aliases move."""

    @property
    def follows_champions(self) -> bool:
        """Whether a check can change anything: some target unpinned and an interval set."""
        return self.config.serving.reload_interval_seconds > 0 and any(t not in self.pins for t in TARGETS)

    def start(self) -> None:
        """Follow the champions of the unpinned targets on a daemon thread (unless the interval is 0)."""
        if not self.follows_champions or self._thread is not None:
            return
        interval = self.config.serving.reload_interval_seconds
        self._thread = threading.Thread(target=self._follow, args=(interval,), name="champion-check", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _follow(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.check()
            except Exception as exc:  # keep serving the models we have; say why the new ones are not here
                logger.warning("champion check failed, still serving %s: %s", self.current.info(), exc)

    def check(self) -> bool:
        """Load and swap in the wanted versions if the pair in force or the measured actions' champion moved;
        True when it did.

        The pair is read once and loaded as read, so a bundle never holds one model of each of two pairs.
        A set of versions that failed to load (say, trained on another feature schema), or that would lose
        a model the service has, is tried once: logged, and the old models keep serving until the pair
        moves on."""
        in_force = champion_pair(self.config)
        wanted = (*(self.pins.get(target) or in_force.versions.get(target) for target in TARGETS), measured_champion_version(self.config))
        if wanted == self._tried:
            return False
        self._tried = wanted
        fresh = load_served(self.config, in_force)
        lost = [t for t in TARGETS if self.current.models.model(t) is not None and fresh.models.model(t) is None]
        if lost:
            raise InputError("; ".join(f"{t}: {fresh.models.unavailable.get(t, 'unavailable')}" for t in lost))
        before = self.current.info()
        _warn_if_old(fresh)
        self.current = fresh
        logger.info("now serving %s (was %s)", fresh.info(), before)
        return True


def _warn_if_old(served: ServedModels) -> None:
    """One WARNING line when the models' newest training labels are older than scoring.max_model_age_days."""
    import pandas as pd

    if warning := served.models.age_warning(pd.Timestamp.now(tz="UTC"), served.config):
        logger.warning("%s", warning)


def metadata(served: ServedModels, schema: list[FeatureSpec]) -> dict[str, Any]:
    """GET /metadata: the models answering, their backtest, the program snapshot and the feature schema."""
    return {
        "models": served.about,
        "answer_names": served.info(),
        "loaded_at": served.loaded_at,
        "program": served.program,
        "horizon_days": served.config.labels.horizon_days,
        "features": [
            {
                "name": s.name,
                "kind": s.kind,
                "family": s.family,
                "description": s.description,
                "may_be_negative": s.may_be_negative,
                "may_be_missing": s.may_be_missing,
            }
            for s in schema
        ],
    }
