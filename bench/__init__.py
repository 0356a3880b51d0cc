"""Benchmarks of the pipeline's speed and memory; their latest figures are in docs/benchmarks.md."""

import os
import platform
import time
from pathlib import Path


def machine() -> str:
    """The machine and moment a benchmark ran on, as docs/benchmarks.md records them."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.2f}"
    )


def throwaway_store(folder: Path) -> list[str]:
    """`--set` options that point MLflow, reports and scores of a CLI run at `folder`."""
    return [
        "--set",
        f"paths.mlflow_tracking_uri=sqlite:///{folder}/mlflow.db",
        "--set",
        f"paths.mlflow_artifacts_dir={folder}/artifacts",
        "--set",
        f"paths.reports_dir={folder}/reports",
        "--set",
        f"paths.output_dir={folder}/scores",
    ]
