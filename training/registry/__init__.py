"""MLflow tracking and model registry of partner-churn: log a training run, gate promotion, load the champion.

The embedded default is a SQLite store (`sqlite:///work/mlflow.db`) with artifacts under
`paths.mlflow_artifacts_dir`; a team points `MLFLOW_TRACKING_URI` at a tracking server instead. The
registry lives in the same store as the runs.

Each target's model is registered under its own name (`training.risk_model_name`,
`training.potential_model_name`) as an MLflow pyfunc that wraps `TrainedModel`, so every consumer of
the registry (this package, `mlflow models serve`, the service) gets calibrated probabilities, never the
0/1 labels MLflow's LightGBM flavour would return.

The pair in force (`training.champions`) is the only thing that decides what is scored and served: it
is moved as one unit by `apply_gate` (after a run was logged completely), by a deliberate `promote` or
by `rollback`; a version the gate refused gets the alias `challenger`.
Nothing here touches MLflow or the disk at import time; every public function configures the tracking
URI from the config it is given.

The modules, each one subject; callers import from `training.registry`, which holds the public API:

- `tracking`: the tracking URI and the experiment (`configure_tracking`).
- `pyfunc`: `PartnerChurnModel` and what is logged with it (code, example, signature, requirements).
- `procedure`: a run's settings as params, the procedure and label hashes, a logged run's settings read back.
- `runs`: logging a training run and registering its models (`log_training_run`).
- `gate`: the promotion gate (`apply_gate`, `GateDecision`).
- `queries`: reading the registry (`list_models`, `load_model`, `resolve_version`, `describe_version`).
- `pairs`: the pair in force moved by hand (`champion_pair`, `list_pairs`, `promote`, `rollback`).
- `tags`: how figures, moments and people are written into MLflow tags.
- `uplift`: the measured actions of `partner-churn effects` (`log_measured_actions`, `load_measured_actions`).

Every version already in a store was logged as an MLflow "model from code" whose code runs
`from training.registry import PartnerChurnModel` (`MODEL_CODE`): that import must keep working.
"""

from __future__ import annotations

from training.champions import CHAMPION
from training.registry.gate import BASELINE_WORDS, CHALLENGER, FIGURE_WORDS, GateDecision, Rerun, apply_gate, means_on_shared_folds
from training.registry.pairs import champion_pair, list_pairs, promote, rollback
from training.registry.procedure import (
    LABEL_SECTIONS,
    LOGGED_CONFIG_SECTIONS,
    NOT_PROCEDURE,
    PROCEDURE_SECTIONS,
    RENAMED_KEYS,
    config_params,
    fold_tests,
    label_definition_id,
    procedure_config,
    procedure_id,
)
from training.registry.pyfunc import INPUT_EXAMPLE_ROWS, MODEL_CODE, PYFUNC_REQUIREMENTS, PartnerChurnModel
from training.registry.queries import describe_version, list_models, load_model, resolve_version
from training.registry.runs import BACKTEST_METRICS, backtest_metrics, fold_metrics, log_training_run, model_name
from training.registry.tracking import REACHABILITY_TIMEOUT_SECONDS, configure_tracking, logger
from training.registry.uplift import MeasuredActionsModel, load_measured_actions, log_measured_actions, measured_champion_version

__all__ = [
    "BACKTEST_METRICS",
    "BASELINE_WORDS",
    "CHALLENGER",
    "CHAMPION",
    "FIGURE_WORDS",
    "INPUT_EXAMPLE_ROWS",
    "LABEL_SECTIONS",
    "LOGGED_CONFIG_SECTIONS",
    "MODEL_CODE",
    "NOT_PROCEDURE",
    "PROCEDURE_SECTIONS",
    "PYFUNC_REQUIREMENTS",
    "REACHABILITY_TIMEOUT_SECONDS",
    "RENAMED_KEYS",
    "GateDecision",
    "MeasuredActionsModel",
    "PartnerChurnModel",
    "Rerun",
    "apply_gate",
    "backtest_metrics",
    "champion_pair",
    "config_params",
    "configure_tracking",
    "describe_version",
    "fold_metrics",
    "fold_tests",
    "label_definition_id",
    "list_models",
    "list_pairs",
    "load_measured_actions",
    "load_model",
    "log_measured_actions",
    "log_training_run",
    "logger",
    "means_on_shared_folds",
    "measured_champion_version",
    "model_name",
    "procedure_config",
    "procedure_id",
    "promote",
    "resolve_version",
    "rollback",
]
