"""Which models the service answers with: loading them from the registry, and swapping in a new champion.

`ModelKeeper.current` is one immutable `ServedModels` bundle. A check (every
`serving.reload_interval_seconds`, on a background thread) asks the registry which versions the
`champion` aliases point to; when they moved, the new bundle is loaded completely beside the old one
and then replaces it in one assignment. Requests in flight finish with the bundle they took; the next
ones get the new one. A failed load keeps the old bundle and is logged. With `serving.model_version`
pinned there is nothing to follow, so no check runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from features.schema import FeatureSpec, feature_names
from partner_churn.config import Config
from partner_churn.errors import InputError
from segments.actions import load_action_table
from serving.batch import ScoringModels
from serving.online import ServedModels
from training.registry import describe_version, load_model, resolve_version

logger = logging.getLogger("partner_churn.service")


def load_served(config: Config) -> ServedModels:
    """Both registered models (champions, or `serving.model_version`) checked against this config.

    InputError, in one line, when no model is registered, when the models were trained on another
    feature schema than this config's (the request model would not match them), or when they carry no
    program snapshot (trained before the service existed: retrain).
    """
    pinned = config.serving.model_version
    names = (config.training.risk_model_name, config.training.potential_model_name)
    (risk, risk_version), (potential, potential_version) = (load_model(config, name, pinned) for name in names)
    expected = feature_names(config)
    for name, model in zip(names, (risk, potential)):
        if model.features != expected:
            differ = sorted(set(model.features) ^ set(expected))[:5] or ["(same names, another order)"]
            raise InputError(
                f"registered model '{name}' was trained on {len(model.features)} features that differ from this config's "
                f"{len(expected)} (e.g. {', '.join(differ)}): serve it with the config it was trained with, or retrain"
            )
        if not model.program:
            raise InputError(f"registered model '{name}' carries no program snapshot (trained by an older version): retrain it")
    window = f"revenue_{config.segments.revenue_window_days}d"
    if window not in expected:
        raise InputError(f"segments.revenue_window_days needs the feature {window}: add the window to features.windows_days")
    about = {
        "deactivation_risk": describe_version(config, names[0], risk_version),
        "upgrade_potential": describe_version(config, names[1], potential_version),
    }
    return ServedModels(
        models=ScoringModels(risk, risk_version, potential, potential_version),
        actions=load_action_table(config.scoring),
        config=config,
        about=about,
    )


class ModelKeeper:
    """Holds the bundle the service answers with and follows the champion aliases."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.current: ServedModels = load_served(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused: tuple[str, str] | None = None

    def start(self) -> None:
        """Follow the champions on a daemon thread (unless a version is pinned or the interval is 0)."""
        interval = self.config.serving.reload_interval_seconds
        if interval <= 0 or self.config.serving.model_version is not None or self._thread is not None:
            return
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
        """Load and swap in the champions if the aliases moved; True when they did.

        A pair of versions that failed to load (say, trained on another feature schema) is not tried
        again until the aliases move on; the failure is logged once and the old models keep serving."""
        training = self.config.training
        now = (resolve_version(self.config, training.risk_model_name), resolve_version(self.config, training.potential_model_name))
        if now == (self.current.models.risk_version, self.current.models.potential_version) or now == self._refused:
            return False
        try:
            fresh = load_served(self.config)
        except Exception:
            self._refused = now
            raise
        before = self.current.info()
        self.current = fresh
        logger.info("now serving %s (was %s)", fresh.info(), before)
        return True


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
                "name": s.name, "kind": s.kind, "family": s.family, "description": s.description,
                "may_be_negative": s.may_be_negative, "may_be_missing": s.may_be_missing,
            }
            for s in schema
        ],
    }
