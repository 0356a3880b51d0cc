"""Benchmarks of monitoring: false alarms and detection over many seeds, and the drift report's speed.

`seeds` (the figures in docs/definitions.md, "Monitoring"): a model is trained on one generated
program up to the change date (as the champion would have been), then the drift check runs, with the
real monitoring code, on unchanged programs of other seeds (every alarm is a false alarm) and on
changed ones (every miss is a missed change), at two and at three months after the change; realized
performance of the pre-change model is measured at the later date.
`.venv/bin/python -m bench.drift_bench seeds [--unchanged 12] [--changed 5]`

`speed` (docs/benchmarks.md): the Evidently report on 100,000 partners x every feature and both
scores against a 20,000-row training reference, sampled (monitoring.sample_size) and in full, each in
a fresh process for its time and peak memory, and how far sampling moves the per-column drift scores.
`.venv/bin/python -m bench.drift_bench speed [--partners 100000]`
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bench import machine
from features.contract import Program, load_program
from features.pipeline import build_features, build_labels
from features.schema import feature_schema
from monitoring import drift
from monitoring.performance import compare_with_backtest, realized_predictions
from partner_churn.config import Config, load_config
from partner_churn.domain import active_mask
from synthetic.program import GeneratedProgram, generate_program, write_program
from synthetic.scenarios import SCENARIOS, program_before
from training.train import train_and_backtest

CHANGE = dt.date(2026, 3, 1)
DATES = (pd.Timestamp("2026-05-01", tz="UTC"), pd.Timestamp("2026-06-01", tz="UTC"))
"""Two and three months after the change; the 19-month programs' data lets the later one's horizon pass."""
MONTHS, PARTNERS, TRAIN_SEED = 19, 5_000, 11
TARGET_SECONDS = 20.0


def loaded(program: GeneratedProgram, folder: Path, config: Config) -> Program:
    """A generated program as the CLI sees it: written, then loaded through the data contract."""
    write_program(program, folder)
    return load_program(folder, config.data, pd.Timestamp("2100-01-01", tz="UTC"))


def scored(program: Program, models: dict, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """Features at `as_of` with the scores `partner-churn score` gives (risk for active partners, potential for all)."""
    features = build_features(program.partners, program.events, [as_of], config, surveys=program.surveys)
    active = active_mask(features, config)
    features["deactivation_risk"] = np.where(active, 0.0, np.nan)
    features.loc[active, "deactivation_risk"] = models["deactivation_risk"].predict(features[active])
    features["upgrade_potential"] = models["upgrade_potential"].predict(features)
    return features


def seeds(args: argparse.Namespace) -> None:
    config = load_config()
    schema = feature_schema(config)
    print(f"machine: {machine()}")
    print(f"programs: {PARTNERS:,} partners x {MONTHS} months; change from {CHANGE}; model trained on seed {TRAIN_SEED} before it")
    with tempfile.TemporaryDirectory() as tmp:
        base = generate_program(PARTNERS, MONTHS, TRAIN_SEED)
        before = loaded(program_before(base, CHANGE), Path(tmp) / "before", config)
        started = time.perf_counter()
        result = train_and_backtest(before, config)
        print(f"trained in {time.perf_counter() - started:.0f} s; backtest ROC-AUC {result.model_auc}")
        reference = result.reference_sample
        runs = [("unchanged", s, ()) for s in range(TRAIN_SEED + 1, TRAIN_SEED + 1 + args.unchanged)]
        runs += [(name, s, (name,)) for name in SCENARIOS for s in range(TRAIN_SEED + 1, TRAIN_SEED + 1 + args.changed)]
        rows = []
        for name, seed, scenarios in runs:
            program = loaded(
                generate_program(PARTNERS, MONTHS, seed, scenarios=scenarios, scenario_from=CHANGE if scenarios else None),
                Path(tmp) / "program",
                config,
            )
            row = {"program": name, "seed": seed}
            for as_of in DATES:
                frame = scored(program, result.models, as_of, config)
                checked, _ = drift.compare(reference, drift.active_rows(frame, config), schema, config, as_of=as_of)
                days = (as_of.date() - CHANGE).days
                row[f"drifted_{days}d"] = checked.drifted_features
                row[f"alarm_{days}d"] = checked.recommendation.action == "retrain"
                for column, short in (("deactivation_risk", "risk"), ("upgrade_potential", "upgrade")):
                    row[f"{short}_score_drift_{days}d"] = round(next(c.drift_score for c in checked.scores if c.column == column), 3)
            labels = build_labels(program.partners, program.events, [DATES[-1]], config, data_end=program.events["ts"].max())
            table = compare_with_backtest(realized_predictions(frame, labels), result.backtest)
            overall = table[(table["target"] == "deactivation_risk") & (table["segment"] == "all")].iloc[0]
            row["risk_roc_auc"] = round(float(overall["roc_auc"]), 3)
            row["backtest_roc_auc"] = round(float(overall["expected_roc_auc"]), 3)
            rows.append(row)
            print(row, flush=True)
    results = pd.DataFrame(rows)
    print(results.to_string(index=False))
    for days in ((d.date() - CHANGE).days for d in DATES):
        rates = results.groupby("program", sort=False)[f"alarm_{days}d"].agg(["sum", "count"])
        print(
            f"{days} days after the change, alarms (exit 1) per program kind:", {k: f"{int(v['sum'])}/{int(v['count'])}" for k, v in rates.iterrows()}
        )
    drop = results.groupby("program", sort=False)[["risk_roc_auc", "backtest_roc_auc"]].agg(["min", "max"])
    print("deactivation risk ROC-AUC at", f"{DATES[-1]:%Y-%m-%d}:\n{drop.to_string()}")


def speed(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        program = loaded(generate_program(args.partners, 18, 7), folder / "data", config)
        result = train_and_backtest(program, config)
        as_of = pd.Timestamp("2026-07-01", tz="UTC")
        current = scored(program, result.models, as_of, config)
        print(f"prepared in {time.perf_counter() - started:.0f} s (generate, train, score; not timed below)")
        result.reference_sample.to_parquet(folder / "reference.parquet", index=False)
        current.to_parquet(folder / "current.parquet", index=False)
        outputs = {}
        for label, sample_size in (("sampled", config.monitoring.sample_size), ("full", 10**7)):
            out = folder / f"{label}.parquet"
            child = subprocess.run(
                [sys.executable, "-m", "bench.drift_bench", "measure", str(folder), str(sample_size), str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                raise SystemExit(f"measure {label} failed: {child.stderr[-2000:]}")
            print(f"{label}: {child.stdout.strip()}")
            outputs[label] = pd.read_parquet(out).set_index("column")
        diff = (outputs["sampled"]["drift_score"] - outputs["full"]["drift_score"]).abs()
        flips = int((outputs["sampled"]["drifted"] != outputs["full"]["drifted"]).sum())
        print(
            f"sampling error over {len(diff)} columns: |sampled - full| drift score mean {diff.mean():.4f}, "
            f"95th percentile {diff.quantile(0.95):.4f}, max {diff.max():.4f} ({diff.idxmax()}); verdicts that differ: {flips}"
        )


def measure(folder: Path, sample_size: int, out: Path) -> None:
    """In a fresh process: the report on every partner (all rows, every feature, both scores) vs the reference."""
    warnings.filterwarnings("ignore")
    config = load_config(overrides=[f"monitoring.sample_size={sample_size}"])
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    current["deactivation_risk"] = current["deactivation_risk"].fillna(0.0)  # every partner has a row; inactive get 0
    kinds = drift.column_kinds(feature_schema(config))
    import evidently  # noqa: F401 - imported before the clock starts, as in a long-running process

    started = time.perf_counter()
    compared = drift.sample_rows(current, config.monitoring.sample_size, config.monitoring.seed)
    ref = drift.sample_rows(reference, config.monitoring.sample_size, config.monitoring.seed)
    natural = drift.natural_drift(reference, kinds, config.monitoring)
    bars = drift.thresholds(kinds, natural, config.monitoring)
    snapshot = drift.run_report(ref, compared, kinds, bars, config.monitoring)
    columns = drift.drift_columns(snapshot, kinds, natural)
    computed = time.perf_counter() - started
    html = out.with_suffix(".html")
    snapshot.save_html(str(html))
    elapsed = time.perf_counter() - started
    peak = _peak_rss_gb()
    pd.DataFrame([{"column": c.column, "drift_score": c.drift_score, "drifted": c.drifted} for c in columns]).to_parquet(out)
    verdict = "met" if elapsed <= TARGET_SECONDS else "MISSED"
    print(
        f"{len(compared):,} current rows (of {len(current):,}) x {len(columns)} columns vs {len(ref):,} reference rows: "
        f"report {computed:.1f} s + drift.html {elapsed - computed:.1f} s ({html.stat().st_size / 1e6:.1f} MB) = {elapsed:.1f} s "
        f"(target <= {TARGET_SECONDS:.0f} s: {verdict}); peak RSS of the process {peak:.2f} GB"
    )


def _peak_rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("seeds", help="false alarms and detection over many seeds")
    sweep.add_argument("--unchanged", type=int, default=12, help="unchanged programs (seeds after the training seed)")
    sweep.add_argument("--changed", type=int, default=5, help="programs per scenario")
    timing = commands.add_parser("speed", help="the drift report on a large program")
    timing.add_argument("--partners", type=int, default=100_000)
    child = commands.add_parser("measure", help="(internal) one timed report in a fresh process")
    child.add_argument("folder", type=Path)
    child.add_argument("sample_size", type=int)
    child.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "seeds":
        seeds(args)
    elif args.command == "speed":
        speed(args)
    else:
        measure(args.folder, args.sample_size, args.out)


if __name__ == "__main__":
    main()
