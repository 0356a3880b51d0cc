"""Small facts about an MLflow store that the registry modules share: where a SQLite store's file is,
finding an alias, telling "not found" from a failure, quoting a name in a search filter."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from partner_churn.errors import InputError


def sqlite_path(uri: str) -> Path | None:
    """File of a `sqlite:///relative.db` or `sqlite:////absolute.db` URI (query string dropped); None for
    another kind of store (a tracking server)."""
    if urllib.parse.urlsplit(uri).scheme.lower() != "sqlite":
        return None
    rest = uri.split(":", 1)[1].split("?", 1)[0]
    if not rest.startswith("///"):
        raise InputError(f"MLflow tracking URI {uri}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
    return Path(rest[3:])


def alias_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points to; None when the model or the alias does not exist."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if is_not_found(exc):
            return None
        raise


def is_not_found(exc: MlflowException) -> bool:
    """Whether MLflow says the thing asked for does not exist (rather than that the store failed)."""
    # A missing alias is INVALID_PARAMETER_VALUE on the SQL store, RESOURCE_DOES_NOT_EXIST elsewhere.
    return exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def quote_name(name: str) -> str:
    """A registered model's name inside a search filter's quotes."""
    return name.replace("'", "\\'")


ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)
"""Where MLflow's SQL store writes down absolute artifact locations (MLflow 3's schema)."""


def reroot_artifacts(database: Path, recorded: str, configured: str, *, wait_seconds: float) -> int:
    """Point every artifact location under `recorded` (a file: URI root) at `configured` instead, in one
    transaction; returns the number of values changed. What makes a copied or moved store write and read
    its own artifact folder, not the original's."""
    import sqlite3
    from contextlib import closing

    changed = 0
    with closing(sqlite3.connect(database, timeout=wait_seconds)) as connection, connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table, column in ARTIFACT_COLUMNS:
            if table not in tables:
                continue
            cursor = connection.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE {column} = ? OR substr({column}, 1, ?) = ?",
                (configured, len(recorded) + 1, recorded, len(recorded) + 1, recorded + "/"),
            )
            changed += cursor.rowcount
    return changed
