"""Benchmarks of the pipeline's speed and memory; their latest figures are in docs/benchmarks.md."""

from pathlib import Path


def throwaway_store(folder: Path) -> list[str]:
    """`--set` options that point MLflow, reports and scores of a CLI run at `folder`."""
    return [
        "--set", f"paths.mlflow_tracking_uri=sqlite:///{folder}/mlflow.db",
        "--set", f"paths.mlflow_artifacts_dir={folder}/artifacts",
        "--set", f"paths.reports_dir={folder}/reports",
        "--set", f"paths.output_dir={folder}/scores",
    ]
