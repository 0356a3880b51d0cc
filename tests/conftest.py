"""Shared fixtures. No network: telemetry of BentoML, MLflow and Evidently is off for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from partner_churn.telemetry import quiet_telemetry

quiet_telemetry()

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5,000-partner, 18-month program written once per test session (about 1.2 million events)."""
    from synthetic.program import generate_program, write_program

    out = tmp_path_factory.mktemp("program")
    write_program(generate_program(5_000, 18, seed=11), out)
    return out
