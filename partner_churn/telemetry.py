"""No usage reporting from BentoML, MLflow or Evidently (no network here, and none wanted), no MLflow
chatter. A module of its own, without imports, so every entry point (the CLI, the service's workers,
benchmarks, tests) can call it before those libraries are imported."""

from __future__ import annotations

import os

QUIET: dict[str, str] = {
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",  # Evidently's, and the general convention
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}
"""The variables, for a child process's environment."""


def quiet_telemetry() -> None:
    """Set QUIET in this process's environment, unless already set."""
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
