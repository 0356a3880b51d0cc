"""Shared fixtures. No network: telemetry of BentoML, MLflow and Evidently is off for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from partner_churn.telemetry import quiet_telemetry

quiet_telemetry()
# One OpenMP thread per process (this one and every command it starts): pytest-xdist runs a worker per core,
# and LightGBM's threads spin while they wait, so two workers training with a thread per core each took 54 s
# where one thread each takes 10 s (the 5,000-partner session training, measured 2026-12-03).
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5,000-partner, 18-month program written once per test session (about 1.2 million events)."""
    from synthetic.program import generate_program, write_program

    out = tmp_path_factory.mktemp("program")
    write_program(generate_program(5_000, 18, seed=11), out)
    return out


@pytest.fixture(scope="session")
def fast_training(generated_dir: Path):  # noqa: ANN201 - TrainingResult
    """Both models trained once per session (per test worker) on the generated program with
    `support.FAST_SETTINGS`: what the modules that score or serve use instead of training their own."""
    import pandas as pd

    from features.contract import load_program
    from partner_churn.config import Config, load_config
    from tests.support import FAST_SETTINGS
    from training.train import train_and_backtest

    program = load_program(generated_dir, Config().data, pd.Timestamp("2026-07-01", tz="UTC"))
    return train_and_backtest(program, load_config(env={}, overrides=FAST_SETTINGS))
