"""Benchmark: `partner-churn score` on a generated 100,000-partner program, reasons included.

Target (issue #18, the daily path): at most 20 s on the 2-core machine (the retention issue's was 60 s). Trains the champions first in a
throwaway SQLite store (not timed), then times the real CLI in a subprocess. Run:
`.venv/bin/python -m bench.score_bench [--data DIR] [--partners N]`.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import machine, throwaway_store
from synthetic.program import generate_program, write_program

TARGET_SECONDS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=100_000, help="partners to generate when --data is not given")
    parser.add_argument("--data", type=Path, default=None, help="an existing program folder")
    parser.add_argument("--as-of", default="2026-07-01", help="scoring date")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            write_program(generate_program(args.partners, 18, 7), data)
        settings = throwaway_store(Path(tmp))
        cli = [sys.executable, "-m", "commands"]
        trained = subprocess.run([*cli, "train", "--data", str(data), *settings], capture_output=True, text=True)
        if trained.returncode not in (0, 1):
            raise SystemExit(f"training failed: {trained.stderr[-2000:]}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        scored = subprocess.run([*cli, "score", "--data", str(data), "--as-of", args.as_of, *settings], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        peak_gb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024**2
        if scored.returncode != 0:
            raise SystemExit(f"scoring failed: {scored.stderr[-2000:]}")
        print(scored.stdout.splitlines()[0])
        risk_list = pd.read_parquet(Path(tmp) / "scores" / args.as_of / "risk_list.parquet", columns=["reasons_source"])
        print("reasons by source:", risk_list["reasons_source"].value_counts().to_dict())
        verdict = "met" if elapsed <= TARGET_SECONDS else "MISSED"
        print(f"partner-churn score: {elapsed:.1f} s (target <= {TARGET_SECONDS} s: {verdict}); peak memory of the children {peak_gb:.2f} GB")


if __name__ == "__main__":
    main()
