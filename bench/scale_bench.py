"""Benchmark: the dask engine against the local one, and how it grows with the program (issue #17).

For each size (partners, 18 months, seed 7), generates the program in `--partitions` partitions of whole
partners into `work/scale-bench/<N>/` (reused when it is there), trains both models once on the smallest
5,000-partner program of the same seed in a throwaway store (not timed; scoring reads the same features), then times in subprocesses, for each engine and step asked for
(`--steps`): features at one cutoff (`partner-churn features`), the scoring (`partner-churn score`: features,
models, reasons, owner KPIs, report) and the backtest (`partner-churn backtest`: the training rows at every
cutoff of the plan, both models' folds against the baselines; what `train` does but the final refits and the
registration). Peak memory is the whole process tree's (the command and its Dask workers), summed
RSS sampled every 0.2 s with psutil. Run:
`.venv/bin/python -m bench.scale_bench --partners 100000 --engines local dask [--steps features score backtest]
[--set training.max_partners=200000]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench import machine, throwaway_store
from synthetic.program import GENERATION_CHUNK

REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "work" / "scale-bench"
AS_OF = "2026-07-01"
CLI = [sys.executable, "-m", "commands"]


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, bytes."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def timed(args: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds and peak tree memory (GB) of a command run to its end."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], tree_rss(watched))
            except psutil.NoSuchProcess:
                return
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    return time.perf_counter() - started, peak[0] / 1024**3, subprocess.CompletedProcess(args, process.returncode, out, err)


def ensure_program(partners: int, partitions: int) -> tuple[Path, str]:
    folder = FOLDER / str(partners)
    stamp = folder / "generated.json"
    wanted = {"partners": partners, "months": 18, "seed": 7, "partitions": partitions, "chunk": GENERATION_CHUNK}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return folder / "data", "reused"
    seconds, peak, result = timed(
        [*CLI, "generate", "--partners", str(partners), "--seed", "7", "--out", str(folder / "data"), "--partitions", str(partitions)]
    )
    if result.returncode != 0:
        raise SystemExit(f"generation failed: {result.stderr[-2000:]}")
    stamp.write_text(json.dumps(wanted))
    return folder / "data", f"generated in {seconds:.1f} s, peak {peak:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--partners", type=int, nargs="+", default=[100_000])
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--engines", nargs="+", default=["local", "dask"], choices=["local", "dask"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", nargs="+", default=["features", "score"], choices=["features", "score", "backtest"])
    parser.add_argument("--set", dest="settings", action="append", default=[], help="KEY=VALUE for every command (e.g. training.max_partners=200000)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = throwaway_store(Path(tmp))
        settings += [item for setting in args.settings for item in ("--set", setting)]
        dask = ["--set", f"compute.workers={args.workers}"]
        for i, partners in enumerate(sorted(args.partners)):
            data, how = ensure_program(partners, args.partitions)
            print(f"{partners:,} partners in {args.partitions} partitions: {how}")
            if i == 0 and {"features", "score"} & set(args.steps):
                small = Path(tmp) / "train"
                subprocess.run([*CLI, "generate", "--partners", "5000", "--seed", "7", "--out", str(small)], capture_output=True, check=True)
                trained = subprocess.run([*CLI, "train", "--data", str(small), *settings], capture_output=True, text=True)
                if trained.returncode not in (0, 1):
                    raise SystemExit(f"training failed: {trained.stderr[-2000:]}")
            for engine in args.engines:
                extra = ["--engine", engine, *(dask if engine == "dask" else [])]
                if "features" in args.steps:
                    out = Path(tmp) / f"features-{partners}-{engine}.parquet"
                    step(f"{engine:5s} features, one cutoff", [*CLI, "features", "--data", str(data), "--as-of", AS_OF, "--out", str(out), *extra])
                if "score" in args.steps:
                    output = ["--set", f"paths.output_dir={tmp}/scores-{partners}-{engine}"]
                    step(f"{engine:5s} score", [*CLI, "score", "--data", str(data), "--as-of", AS_OF, *settings, *output, *extra])
                if "backtest" in args.steps:
                    result = step(f"{engine:5s} backtest", [*CLI, "backtest", "--data", str(data), *settings, *extra])
                    rows = [line for line in result.stderr.splitlines() if line.startswith(("sample:", "plan:", "dataset:"))]
                    print(f"    {'; '.join(rows)}")


def step(name: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """One timed command; the benchmark stops with its error when it fails."""
    seconds, peak, result = timed(args)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed: {result.stderr[-2000:]}")
    print(f"  {name + ':':28s} {seconds:6.1f} s, peak {peak:5.2f} GB (process tree)")
    return result


if __name__ == "__main__":
    main()
