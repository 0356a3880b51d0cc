"""Benchmark: `partner-churn train` end to end on a generated 100,000-partner, 18-month program.

Target (production-training issue): 4 refit folds plus the final refit in at most 5 minutes and 10 GB peak
RSS on the 2-core machine. Runs the real CLI in a subprocess against a throwaway SQLite MLflow store and
prints wall time, the child's peak memory, the per-fold backtest and the gate's decisions. Run: `.venv/bin/python -m bench.train_bench [--partners N] [--data DIR]`.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import machine, throwaway_store
from synthetic.program import generate_program, write_program

TARGET_SECONDS = 300
TARGET_PEAK_GB = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=100_000, help="partners to generate when --data is not given")
    parser.add_argument("--months", type=int, default=18, help="months to simulate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--data", type=Path, default=None, help="an existing program folder to train on instead")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            write_program(generate_program(args.partners, args.months, args.seed), data)
        store = Path(tmp) / "store"
        command = [sys.executable, "-m", "commands", "train", "--data", str(data), *throwaway_store(store)]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        print(result.stdout)
        if result.returncode not in (0, 1):
            print(result.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"train failed with exit code {result.returncode}")
        print(
            "\n".join(
                line for line in result.stderr.splitlines() if line.startswith(("plan:", "dataset:", "deactivation_risk:", "upgrade_potential:"))
            )
        )
        time_verdict = "met" if elapsed <= TARGET_SECONDS else "MISSED"
        memory_verdict = "met" if peak_gb <= TARGET_PEAK_GB else "MISSED"
        print(
            f"partner-churn train: {elapsed:.1f} s (target <= {TARGET_SECONDS} s: {time_verdict}); peak memory of the child "
            f"{peak_gb:.2f} GB (target <= {TARGET_PEAK_GB:.0f} GB: {memory_verdict})"
        )


if __name__ == "__main__":
    main()
