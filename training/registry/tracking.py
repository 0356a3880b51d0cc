"""Where MLflow logs: the tracking URI (SQLite or a server) and the experiment, checked before anything is logged.

Nothing here touches MLflow or the disk at import time; `connect` configures the tracking URI from the
config it is given.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from partner_churn.config import Config
from partner_churn.errors import InputError
from training.store import reroot_artifacts, sqlite_path

REACHABILITY_TIMEOUT_SECONDS = 3.0
logger = logging.getLogger("partner_churn.registry")


def configure_tracking(config: Config) -> str:
    """Point MLflow (tracking and registry) at `paths.mlflow_tracking_uri`, ready to log; returns the URI.

    SQLite: the database's folder is created. A tracking server (http/https) must answer within a few
    seconds, else InputError: MLflow's own client would retry for minutes before failing. The experiment
    `training.experiment_name` is created if missing; on a local store its artifacts go to
    `paths.mlflow_artifacts_dir`, on a server the server's artifact root decides.
    """
    uri, _, _ = connect(config)
    return uri


def connect(config: Config) -> tuple[str, MlflowClient, str]:
    """Configure MLflow for this config (as `configure_tracking`); the URI, a client bound to it and the experiment id."""
    uri = config.paths.mlflow_tracking_uri.strip()
    if not uri:
        raise InputError("paths.mlflow_tracking_uri is empty; set MLFLOW_TRACKING_URI or paths.mlflow_tracking_uri")
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme in ("http", "https"):
        _check_reachable(uri)
    elif scheme == "sqlite":
        database = sqlite_path(uri)
        assert database is not None, "the URI's scheme is sqlite, so sqlite_path names its file"
        database.parent.mkdir(parents=True, exist_ok=True)
        uri = _with_busy_timeout(uri, config.paths.mlflow_store_wait_seconds)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = config.training.experiment_name
    try:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            artifact_location = None
            if scheme not in ("http", "https"):
                artifact_location = config.paths.mlflow_artifacts_dir.absolute().resolve().as_uri()
            experiment_id = client.create_experiment(name, artifact_location=artifact_location)
        else:
            if experiment.lifecycle_stage != "active":
                raise InputError(
                    f"MLflow experiment '{name}' at {uri} is deleted: restore it (mlflow experiments restore) or set training.experiment_name"
                )
            experiment_id = experiment.experiment_id
            if scheme == "sqlite":
                _keep_artifacts_beside(uri, experiment.artifact_location, config)
    except MlflowException as exc:
        raise InputError(f"MLflow tracking URI {uri}: {first_line(exc)}") from exc
    return uri, client, experiment_id


def first_line(exc: BaseException) -> str:
    """An error in one line: its message's first line, else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _with_busy_timeout(uri: str, seconds: float) -> str:
    """A SQLite URI whose connections wait up to `seconds` for another process's lock (sqlite's busy timeout,
    SQLAlchemy's `timeout` query parameter), unless the URI sets its own."""
    if "timeout=" in urllib.parse.urlsplit(uri).query:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}timeout={seconds:g}"


def _keep_artifacts_beside(uri: str, recorded: str, config: Config) -> None:
    """A store copied or moved with its artifact folder uses that folder: locations recorded under another
    root are re-rooted at `paths.mlflow_artifacts_dir` (so a copy never writes into, or reads from, the
    original's folder). InputError when the configured folder is empty while the recorded one holds the
    artifacts: the store was copied without them."""
    configured_folder = config.paths.mlflow_artifacts_dir.absolute().resolve()
    configured = configured_folder.as_uri()
    if recorded == configured or not recorded.startswith("file:"):
        return
    recorded_folder = Path(urllib.parse.unquote(urllib.parse.urlsplit(recorded).path))
    if not _holds_files(configured_folder) and _holds_files(recorded_folder):
        raise InputError(
            f"the MLflow store {uri} keeps its artifacts in {recorded_folder}, but paths.mlflow_artifacts_dir is "
            f"{configured_folder} (empty): copy the artifact folder with the store, or set paths.mlflow_artifacts_dir={recorded_folder}"
        )
    database = sqlite_path(uri)
    assert database is not None, "connect calls this for a sqlite: store only, so sqlite_path names its file"
    changed = reroot_artifacts(database, recorded, configured, wait_seconds=config.paths.mlflow_store_wait_seconds)
    logger.warning(
        "MLflow store %s: %d artifact locations moved from %s to %s (the store was copied or moved)", uri, changed, recorded_folder, configured_folder
    )


def _holds_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def _check_reachable(uri: str) -> None:
    """Any HTTP answer (even 401 or 404) means a server listens; no answer in time means unreachable."""
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=REACHABILITY_TIMEOUT_SECONDS):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"MLflow tracking URI {uri}: unreachable ({reason}); set MLFLOW_TRACKING_URI or paths.mlflow_tracking_uri") from None
