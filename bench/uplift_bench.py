"""Benchmark: whether each action's uplift model beats random targeting out of time, over several generated
programs of one size (issue #16: "the uplift model's out-of-time Qini must beat random").

For each seed, generates an 18-month program of `--partners` partners (`partner-churn generate`, without the
actions' truth, which the Qini does not need) into `work/uplift-bench/<partners>-<seed>/`, runs
`partner-churn effects --no-register` on it as a user would, and reads its uplift lines: Qini coefficient,
95% bootstrap interval, test rows, and, for a model short of the gate, the test rows a Qini its size would
need (`retention.power.qini_rows_needed`). Prints a line per action and seed, then per action how many
programs it beat random on, met when all did. The program is removed after each seed unless `--keep`.
Run: `.venv/bin/python -m bench.uplift_bench [--partners 100000] [--seeds 7 11 12 13] [--keep]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench import machine, throwaway_store

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "work" / "uplift-bench"
LINE = re.compile(
    r"^  (?P<action>\S+): Qini (?P<qini>[+-][\d.]+) \[(?P<low>[+-][\d.]+), (?P<high>[+-][\d.]+)\] on (?P<contacted>[\d,]+) contacted and "
    r"(?P<held_out>[\d,]+) held out .*?pp: (?P<verdict>beats random targeting|does not beat random targeting)(?:.*?\((?P<needed>[\d,]+)\) would show it)?"
)
ENVIRONMENT = {**os.environ, "BENTOML_DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "commands", *args], cwd=REPO, env=ENVIRONMENT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"partner-churn {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=100_000, help="partners per generated program")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 12, 13], help="generator seeds, a program each")
    parser.add_argument("--keep", action="store_true", help="keep each generated program (they are removed by default)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    beats: dict[str, list[bool]] = defaultdict(list)
    for seed in args.seeds:
        folder = FOLDER / f"{args.partners}-{seed}"
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        run("generate", "--out", str(folder / "program"), "--partners", str(args.partners), "--months", "18", "--seed", str(seed))
        generated = time.perf_counter()
        stdout = run("effects", "--data", str(folder / "program"), "--no-register", *throwaway_store(folder))
        measured = time.perf_counter()
        print(f"seed {seed}: generated in {generated - started:.0f} s, effects in {measured - generated:.0f} s")
        for match in filter(None, map(LINE.match, stdout.splitlines())):
            won = match["verdict"] == "beats random targeting"
            beats[match["action"]].append(won)
            if match["needed"]:
                needed = f"; a Qini this size would need {match['needed']} test rows"
            else:
                needed = "; its Qini is too small to tell from random targeting" if "too small to tell" in match.string else ""
            print(
                f"  {match['action']}: Qini {match['qini']} [{match['low']}, {match['high']}] on {match['contacted']} contacted and "
                f"{match['held_out']} held out: {'beats random' if won else 'does not beat random'}{needed}"
            )
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{args.partners:,} partners, seeds {' '.join(map(str, args.seeds))}:")
    for action, won in sorted(beats.items()):
        print(f"  {action}: beats random targeting on {sum(won)} of {len(won)} programs: {'met' if all(won) else 'missed'}")


if __name__ == "__main__":
    main()
