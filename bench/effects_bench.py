"""Benchmark: the effects of logged actions (`partner-churn effects`' computation) on a 100,000-partner program,
and the effects against the generator's truth.

Generates `generate_program(100_000, 18, seed=7)` with the truth of every logged action
(`synthetic.action_truth`, about four times the generation's time) into `work/effects-bench/program/`, or
reuses it when it is there (`--fresh` generates anew). Then times, in a fresh process so that its peak memory
is its own (VmHWM), what the command does: load and validate the program, `action_rows` at the command's
default cutoff (midnight after the last event) and `estimate_effects`. Prints the table as the command does,
and, when the program has its truth, each cell's truth over the rows that entered its estimate (both arms, the
segment the estimator assigned), the share of cells whose 95% interval covers it and the sign check of
`tests/test_effects_truth.py`. Run: `.venv/bin/python -m bench.effects_bench [--no-truth] [--fresh]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench import machine

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "work" / "effects-bench"
KEY = ["partner_id", "ts", "action"]
OUTCOMES = {"silent": ("silent_if_treated", "silent_if_held_out"), "revenue": ("revenue_if_treated", "revenue_if_held_out")}


def peak_rss_gb() -> float:
    """This process's own peak resident memory (VmHWM; ru_maxrss where /proc is not there)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(data: Path, out: Path) -> dict[str, object]:
    """Load + action_rows + estimate_effects as the command runs them; writes the rows and the table to `out`."""
    started = time.perf_counter()
    from features.contract import load_program
    from partner_churn.config import Config
    from retention.effect_rows import action_rows
    from retention.effects import estimate_effects

    config = Config()
    imported = time.perf_counter()
    program = load_program(data, config.data, pd.Timestamp.now(tz="UTC"))
    loaded = time.perf_counter()
    assert program.actions is not None
    cutoff = program.events["ts"].max().floor("D") + pd.Timedelta(days=1)
    rows = action_rows(program.partners, program.events, program.actions, cutoff, config)
    built = time.perf_counter()
    table = estimate_effects(rows, config.effects)
    estimated = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(out / "rows.parquet", index=False)
    table.to_parquet(out / "effects.parquet", index=False)
    return {
        "events": len(program.events),
        "actions": len(program.actions),
        "rows": len(rows),
        "cutoff": cutoff.isoformat(),
        "import_s": imported - started,
        "load_s": loaded - imported,
        "rows_s": built - loaded,
        "estimate_s": estimated - built,
        "total_s": estimated - imported,
        "peak_gb": peak_rss_gb(),
    }


def ensure_program(folder: Path, partners: int, months: int, seed: int, truth: bool, fresh: bool) -> str:
    """Generate the program into `folder` unless it is there; says what was done."""
    wanted = {"partners": partners, "months": months, "seed": seed, "truth": truth}
    stamp = folder / "generated.json"
    if not fresh and stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return f"reused {folder}"
    from synthetic.action_truth import ActionTruthSettings
    from synthetic.program import generate_program, write_program

    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    program = generate_program(partners, months, seed, action_truth=ActionTruthSettings() if truth else None)
    simulated = time.perf_counter()
    write_program(program, folder)
    stamp.write_text(json.dumps(wanted) + "\n")
    return (
        f"generated {partners:,} partners x {months} months (seed {seed}{', with the truth' if truth else ''}) in "
        f"{simulated - started:.1f} s + {time.perf_counter() - simulated:.1f} s to write; {program.events.num_rows:,} events, "
        f"{len(program.actions):,} logged actions; peak memory of the generating process {peak_rss_gb():.2f} GB"
    )


def against_truth(rows: pd.DataFrame, table: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Each cell with enough data (an `all` row that is one segment's row counted once) with its truth over the
    rows of its estimate, and whether its interval covers it."""
    from retention.effects import ALL

    joined = rows.merge(truth.assign(ts=truth["ts"].astype(rows["ts"].dtype)), on=KEY, how="left", validate="one_to_one")
    assert joined["silent_if_treated"].notna().all(), "a logged action without its truth"
    used = joined[joined["holdout"].notna() & joined["silent"].notna()]
    cells = []
    for _, cell in table.iterrows():
        if cell["risk_band"] != ALL or cell["silent_verdict"] in ("too few rows", "no holdout"):
            continue
        group = used[(used["action"] == cell["action"]) & ((used["segment"] == cell["segment"]) | (cell["segment"] == ALL))]
        if cell["segment"] == ALL and group["segment"].nunique() == 1 and (table["action"] == cell["action"]).sum() == 2:
            continue  # the action's only segment: the same cell twice
        entry = cell.to_dict()
        for outcome, (treated, held) in OUTCOMES.items():
            entry[f"{outcome}_truth"] = float((group[treated] - group[held]).mean())
            entry[f"{outcome}_covered"] = bool(cell[f"{outcome}_low"] <= entry[f"{outcome}_truth"] <= cell[f"{outcome}_high"])
        cells.append(entry)
    return pd.DataFrame(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, default=100_000, help="partners to generate")
    parser.add_argument("--months", type=int, default=18, help="months to simulate")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--no-truth", action="store_true", help="generate without the actions' truth (about four times faster)")
    parser.add_argument("--fresh", action="store_true", help="generate anew even when work/effects-bench has the program")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)  # the child's mode: a program folder
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.measure.parent / "measured")))
        return

    print(f"machine: {machine()}")
    data = FOLDER / "program"
    print(ensure_program(data, args.partners, args.months, args.seed, not args.no_truth, args.fresh))
    done = subprocess.run([sys.executable, "-m", "bench.effects_bench", "--measure", str(data)], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"measurement failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"effects of {figures['actions']:,} logged actions ({figures['events']:,} events), cutoff {figures['cutoff'][:10]}: "
        f"load + validate {figures['load_s']:.1f} s, action_rows {figures['rows_s']:.1f} s, estimate_effects {figures['estimate_s']:.1f} s, "
        f"total {figures['total_s']:.1f} s (imports {figures['import_s']:.1f} s before); peak memory of the process {figures['peak_gb']:.2f} GB"
    )

    from partner_churn.config import Config
    from retention.effects import format_effects

    rows = pd.read_parquet(FOLDER / "measured" / "rows.parquet")
    table = pd.read_parquet(FOLDER / "measured" / "effects.parquet")
    print(format_effects(table, Config().effects.confidence), end="")
    if not (data / "action_truth.parquet").is_file():
        print("no action_truth.parquet: no comparison with the truth")
        return
    cells = against_truth(rows, table, pd.read_parquet(data / "action_truth.parquet"))
    pd.set_option("display.width", 200)
    shown = ["action", "segment", "n_treated", "n_holdout", "silent_effect", "silent_low", "silent_high", "silent_truth"]
    print("\nagainst the truth over the same rows (silence as a share):")
    print(cells[[*shown, "silent_covered"]].round(4).to_string(index=False))
    print(cells[[c.replace("silent", "revenue") for c in shown] + ["revenue_covered"]].round(1).to_string(index=False))
    for outcome in OUTCOMES:
        half = (cells[f"{outcome}_high"] - cells[f"{outcome}_low"]) / 2
        large = cells[cells[f"{outcome}_truth"].abs() > half]
        right = int((np.sign(large[f"{outcome}_effect"]) == np.sign(large[f"{outcome}_truth"])).sum())
        print(
            f"{outcome}: {int(cells[f'{outcome}_covered'].sum())} of {len(cells)} cells covered; sign right in {right} of "
            f"{len(large)} cells whose true effect exceeds the interval's half-width"
        )


if __name__ == "__main__":
    main()
