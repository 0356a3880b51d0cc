"""Benchmark: generate a 100,000-partner, 18-month program and write it as Parquet.

Target (foundation issue): at most 90 s and peak memory under 6 GB on the 2-core machine.
Also times loading and validating the written program against the contract (not part of the target).
Run: `make bench` or `.venv/bin/python bench/generate_bench.py [--partners N] [--months M]`.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import machine
from features.contract import load_program
from partner_churn.config import Config
from synthetic.program import generate_program, write_program


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=100_000, help="partners to generate")
    parser.add_argument("--months", type=int, default=18, help="months to simulate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        started = time.perf_counter()
        program = generate_program(args.partners, args.months, args.seed)
        simulated = time.perf_counter()
        write_program(program, out)
        written = time.perf_counter()
        events = program.events.num_rows
        size_mb = sum(f.stat().st_size for f in out.iterdir()) / 1e6
        del program
        print(f"generate: {args.partners:,} partners x {args.months} months -> {events:,} events")
        print(f"  simulate {simulated - started:6.1f} s, write {written - simulated:5.1f} s, total {written - started:6.1f} s (target <= 90 s)")
        print(f"  peak memory {peak_rss_gb():.2f} GB (target < 6 GB), Parquet on disk {size_mb:,.0f} MB")
        end = pd.Timestamp.now(tz="UTC")
        loaded = load_program(out, Config().data, end)
        validated = time.perf_counter()
        print(f"load + validate: {validated - written:6.1f} s, {len(loaded.events):,} events; peak memory so far {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
