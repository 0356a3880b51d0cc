"""Benchmark: the scoring service (`partner-churn serve`) against `mlflow models serve`, side by side.

Issue #18's targets on the 2-core machine (issue #6's were 50 ms and 2x): single-partner p99 with reasons
at most 25 ms at concurrency 8 with connections opened at once; throughput at least 4x `mlflow models
serve` of the same model there (our answer carries segment, action and reasons, theirs only a
probability); 10,000 partners in one JSON request under 1 s, and as Arrow columns (`/score_arrow`) under
0.5 s median and 0.8 s worst of 10 (scores, segment, action).

Setup (not timed): a generated program (20,000 partners, 18 months, seed 7) and both models trained
into a throwaway MLflow store under `work/serve-bench/` (reused when it is already there; `--fresh`
rebuilds it); request bodies from real partners' features at `--as-of`, computed by the batch
pipeline, and from their raw events. Then:

1. the in-process floor, in this process: `TrainedModel.predict` of one row, `score_records` of one
   record with and without reasons, of one raw-events record, of 10,000 records, of 1,000 with reasons,
   and the request models' validation of the same bodies;
2. both services started in subprocesses on loopback (ours: `partner-churn serve --workers 2`; theirs:
   `mlflow models serve --env-manager local --workers 2` of the same registered risk model), each
   checked against the in-process answer before anything is measured;
3. each load point driven by `wrk` (4.1, Debian's package; `scripts/install_wrk.sh`, which `make bench`
   runs): N keep-alive connections opened at the start, closed loop, a separate warm-up run then a
   fixed duration; a Lua script posts the bodies in turn, counts non-2xx answers and writes the figures
   as JSON from its `done()` hook; the points of both services interleaved. wrk opens all its
   connections at once, so the two "opened 0.1 s apart" points, and the bulk requests (a fixed number,
   each timed end to end, the answer kept and checked), run in a Python client in a separate process
   (aiohttp);
4. a table, and the targets met or missed. Every server process is stopped at the end, also on failure.

Run: `.venv/bin/python -m bench.serve_bench [--fresh] [--duration 10] [--profile]`.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import machine
from bench.load_clients import WRK_SCRIPT, WRK_TIMEOUT_S, load_process, run_wrk, wrk_command
from bench.servers import Server, alive, free_port, http_post, wait_ready
from partner_churn.telemetry import QUIET

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RISK_MODEL = "partner-churn-deactivation-risk"
MONEY_EVENTS = ("sale", "payout_requested", "payout_paid")

P99_TARGET_MS = 25.0
THROUGHPUT_RATIO_TARGET = 4.0
BULK_TARGET_S = 1.0
ARROW_MEDIAN_TARGET_S, ARROW_WORST_TARGET_S = 0.5, 0.8
"""Issue #18: 10,000 partners as Arrow columns, median and worst of ARROW_REPEATS requests."""
ARROW_REPEATS = 10
BULK_PARTNERS = 10_000
EXPLAINED_BULK_PARTNERS = 1_000


# --------------------------------------------------------------------------------------------------
# Setup: program, models, request bodies


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(QUIET)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `mlflow models serve` runs `uvicorn` from PATH
    return {k: v for k, v in env.items() if not k.startswith("PARTNER_CHURN__")}


def _overrides(store: Path) -> list[str]:
    return [
        f"paths.mlflow_tracking_uri=sqlite:///{store}/mlflow.db",
        f"paths.mlflow_artifacts_dir={store}/mlartifacts",
        f"paths.reports_dir={store}/reports",
        f"paths.output_dir={store}/scores",
        f"paths.bentoml_home={store}/bentoml",
    ]


def _settings(store: Path) -> list[str]:
    return [item for override in _overrides(store) for item in ("--set", override)]


def prepare_store(store: Path, partners: int, fresh: bool) -> float:
    """Generate the program and train both models into `store` unless they are there; seconds spent."""
    data = store / "data"
    ready = (store / "mlflow.db").is_file() and (data / "events.parquet").is_file()
    if ready and not fresh:
        return 0.0
    if store.exists():
        shutil.rmtree(store)
    store.mkdir(parents=True)
    started = time.perf_counter()
    cli = [sys.executable, "-m", "commands"]
    for command in (
        [*cli, "generate", "--partners", str(partners), "--months", "18", "--seed", "7", "--out", str(data)],
        [*cli, "train", "--data", str(data), *_settings(store)],
    ):
        print("setup:", " ".join(command[2:4]), "...", flush=True)
        done = subprocess.run(command, capture_output=True, text=True, env=_quiet_env(), cwd=ROOT)
        if done.returncode not in (0, 1):  # train exits 1 when a model stays challenger
            raise SystemExit(f"setup failed ({' '.join(command[2:4])}): {done.stderr[-2000:]}")
    return time.perf_counter() - started


def _clean(value: Any) -> Any:
    """JSON-ready: NaN becomes null; numpy scalars become Python numbers."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def feature_record(partner_id: str, row: dict[str, Any], downgrade_warning: bool) -> dict[str, Any]:
    """A features record as a caller holding the batch's features would send it."""
    return {"partner_id": partner_id, "features": {name: _clean(value) for name, value in row.items()}, "downgrade_warning": bool(downgrade_warning)}


def events_record(partner: dict[str, Any], events: Any, as_of: str, attributes: list[str]) -> dict[str, Any]:
    """A raw-events record: the partner's row and every event before `as_of`, in time order."""
    listed = []
    for ts, event_type, amount in zip(events["ts"], events["event_type"], events["amount"]):
        event = {"ts": ts.isoformat(), "event_type": str(event_type)}
        if str(event_type) in MONEY_EVENTS:
            event["amount"] = float(amount)
        listed.append(event)
    return {
        "partner_id": str(partner["partner_id"]),
        "partner": {"signup_at": partner["signup_at"].isoformat(), **{name: _clean(partner[name]) for name in attributes}},
        "events": listed,
        "as_of": as_of,
    }


# --------------------------------------------------------------------------------------------------
# The run


def _median_ms(fn: Any, calls: int) -> float:
    """Median wall time of one call, in ms, after one unmeasured call."""
    fn()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=ROOT / "work" / "serve-bench", help="throwaway program + MLflow store")
    parser.add_argument("--fresh", action="store_true", help="regenerate the program and retrain even if the store exists")
    parser.add_argument("--partners", type=int, default=20_000, help="partners to generate")
    parser.add_argument("--as-of", default="2026-07-01", help="scoring time of every request (UTC)")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per load point (whole seconds, as wrk takes them)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each load point (wrk: a separate run first)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (at most one per connection); one drives these servers")
    parser.add_argument("--bulk-repeats", type=int, default=5, help="timed 10,000-partner requests (median reported)")
    parser.add_argument("--ports", default="3310-3330", help="range to pick the two servers' ports from")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument("--profile", action="store_true", help="also print cProfile of score_records (1 record with reasons; 1 raw-events record)")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("serve_bench: wrk is not on PATH; run scripts/install_wrk.sh (make bench does)")
    os.environ.update(QUIET)  # before MLflow is imported
    store = args.store.absolute()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"machine: {machine()}", flush=True)
    bench_started = time.perf_counter()
    setup_s = prepare_store(store, args.partners, args.fresh)
    if setup_s:
        print(f"setup: generated and trained in {setup_s:.1f} s", flush=True)

    import numpy as np
    import pandas as pd

    from features.contract import load_program
    from features.pipeline import build_features
    from features.schema import feature_names
    from partner_churn.config import load_config
    from partner_churn.domain import active_mask
    from serving.api import api_models
    from serving.columnar import features_table, ipc_stream, read_request, score_arrow
    from serving.models import load_served
    from serving.online import score_records

    config = load_config(None, overrides=_overrides(store))
    served = load_served(config)
    api = api_models(config)
    risk, potential = served.models.risk, served.models.potential
    names = feature_names(config)
    model_line = (
        f"models: risk v{served.models.risk_version} {risk.booster.num_trees()} trees, potential v{served.models.potential_version} "
        f"{potential.booster.num_trees()} trees; {len(risk.features)} features ({len(risk.categories)} categorical)"
    )
    print(model_line, flush=True)

    # Request bodies from real partners ------------------------------------------------------------
    as_of = pd.Timestamp(args.as_of, tz="UTC")
    program = load_program(store / "data", config.data, as_of)
    features = build_features(program.partners, program.events, [as_of], config, surveys=program.surveys)
    rng = np.random.default_rng(7)
    mask = active_mask(features, config)
    active, inactive = np.flatnonzero(mask), np.flatnonzero(~mask)
    # The single-partner pool: 3 active partners for 1 inactive, as a CRM asking about partners in play would.
    pool_rows = np.concatenate([rng.choice(active, 150, replace=False), rng.choice(inactive, 50, replace=False)])
    rng.shuffle(pool_rows)
    values = features[names].astype(object)

    def record_of(i: int) -> dict[str, Any]:
        return feature_record(str(features["partner_id"].iat[i]), dict(zip(names, values.iloc[i].tolist())), features["downgrade_warning"].iat[i])

    pool = [record_of(i) for i in pool_rows]
    ours_bodies = [json.dumps({"partners": [r]}).encode() for r in pool]
    plain_bodies = [json.dumps({"partners": [{**r, "explain": False}]}).encode() for r in pool]
    risk_columns = risk.features

    def mlflow_body(records: list[dict[str, Any]]) -> bytes:
        return json.dumps(
            {"dataframe_split": {"columns": risk_columns, "data": [[r["features"][c] for c in risk_columns] for r in records]}}
        ).encode()

    mlflow_bodies = [mlflow_body([r]) for r in pool]
    bulk_rows = rng.choice(len(features), BULK_PARTNERS, replace=False)
    bulk_records = [record_of(i) for i in bulk_rows]
    bulk_body = json.dumps({"partners": bulk_records}).encode()
    mlflow_bulk_body = mlflow_body(bulk_records)
    arrow_bulk_body = ipc_stream(features_table(features.iloc[bulk_rows], api.schema))
    explained = bulk_records[:EXPLAINED_BULK_PARTNERS]
    explained_body = json.dumps({"partners": [{**r, "explain": True} for r in explained]}).encode()
    unexplained_body = json.dumps({"partners": explained}).encode()

    # Raw events: active partners with a typical number of events (the middle fifth by count).
    events = program.events[program.events["ts"] < as_of]
    counts = events.groupby("partner_id", observed=True).size()
    active_ids = features["partner_id"].to_numpy()[active]
    active_counts = counts.reindex(active_ids).dropna()
    low, high = np.percentile(active_counts, [40, 60])
    typical = active_counts[(active_counts >= low) & (active_counts <= high)]
    raw_ids = rng.choice(typical.index.to_numpy(), min(30, len(typical)), replace=False)
    attributes = list(config.data.partner_attributes)
    partners_by_id = program.partners.set_index("partner_id", drop=False)
    by_partner = dict(tuple(events[events["partner_id"].isin(raw_ids)].groupby("partner_id", observed=True)))
    raw_records = [events_record(partners_by_id.loc[pid], by_partner[pid], as_of.isoformat(), attributes) for pid in raw_ids]
    raw_bodies = [json.dumps({"partners": [r]}).encode() for r in raw_records]
    raw_events = [len(r["events"]) for r in raw_records]
    print(
        f"bodies: {len(pool)} single partners ({len(ours_bodies[0]):,} bytes each), median events of active partners "
        f"{int(active_counts.median())} (p90 {int(np.percentile(active_counts, 90))}); raw-events pool {len(raw_records)} partners with {min(raw_events)}-{max(raw_events)} events "
        f"(median {int(np.median(raw_events))}, {int(np.median([len(b) for b in raw_bodies])):,} bytes); bulk {BULK_PARTNERS:,} "
        f"partners {len(bulk_body) / 1e6:.1f} MB (Arrow {len(arrow_bulk_body) / 1e6:.1f} MB, mlflow {len(mlflow_bulk_body) / 1e6:.1f} MB)",
        flush=True,
    )

    # In-process floor -----------------------------------------------------------------------------
    floor: dict[str, float] = {}
    parsed = [api.score_request.model_validate_json(b).partners[0] for b in ours_bodies]
    plain_parsed = [api.score_request.model_validate_json(b).partners[0] for b in plain_bodies]
    raw_parsed = [api.score_request.model_validate_json(b).partners[0] for b in raw_bodies]
    rows = [{name: np.asarray([r["features"][name]], dtype=object if name in risk.categories else float) for name in risk.features} for r in pool]
    matrices = [risk.matrix(row) for row in rows]
    cycle = {"i": 0}

    def nxt(items: list[Any]) -> Any:
        cycle["i"] += 1
        return items[cycle["i"] % len(items)]

    floor["booster.predict, 1 row (LightGBM alone)"] = _median_ms(lambda: risk.booster.predict(nxt(matrices), num_threads=1), 2000)
    floor["TrainedModel.predict, 1 row (dict of columns)"] = _median_ms(lambda: risk.predict(nxt(rows)), 2000)
    floor["pred_contrib (TreeSHAP), 1 row"] = _median_ms(lambda: risk.booster.predict(nxt(matrices), num_threads=1, pred_contrib=True), 500)
    floor["validate a 1-partner body (pydantic)"] = _median_ms(lambda: api.score_request.model_validate_json(nxt(ours_bodies)), 1000)
    floor["score_records, 1 record, no reasons"] = _median_ms(
        lambda: score_records([nxt(plain_parsed)], served, lang="en", explain_by_default=True), 500
    )
    floor["score_records, 1 record, reasons"] = _median_ms(lambda: score_records([nxt(parsed)], served, lang="en", explain_by_default=True), 500)
    floor["validate a 1-partner raw-events body"] = _median_ms(lambda: api.score_request.model_validate_json(nxt(raw_bodies)), 100)
    floor["score_records, 1 raw-events record, reasons"] = _median_ms(
        lambda: score_records([nxt(raw_parsed)], served, lang="en", explain_by_default=True), 100
    )
    bulk_parsed = api.bulk_request.model_validate_json(bulk_body).partners
    floor[f"validate the {BULK_PARTNERS:,}-partner body"] = _median_ms(lambda: api.bulk_request.model_validate_json(bulk_body), 3)
    floor[f"score_records, {BULK_PARTNERS:,} records, no reasons"] = _median_ms(
        lambda: score_records(bulk_parsed, served, lang="en", explain_by_default=False), 3
    )
    floor[f"validate the {BULK_PARTNERS:,}-partner Arrow body"] = _median_ms(
        lambda: read_request(arrow_bulk_body, served, explain_by_default=False), 5
    )
    floor[f"score_arrow, {BULK_PARTNERS:,} partners, no reasons (read, score, write)"] = _median_ms(
        lambda: score_arrow(arrow_bulk_body, served, lang="en", explain_by_default=False), 5
    )
    explained_parsed = api.bulk_request.model_validate_json(explained_body).partners
    floor[f"score_records, {EXPLAINED_BULK_PARTNERS:,} records, reasons"] = _median_ms(
        lambda: score_records(explained_parsed, served, lang="en", explain_by_default=False), 3
    )
    floor[f"score_records, {EXPLAINED_BULK_PARTNERS:,} records, no reasons"] = _median_ms(
        lambda: score_records(bulk_parsed[:EXPLAINED_BULK_PARTNERS], served, lang="en", explain_by_default=False), 3
    )
    # How far the raw-events path agrees with the batch features of the same partners at the same time.
    from_events = score_records(raw_parsed, served, lang="en", explain_by_default=False)
    by_id = {pid: i for i, pid in enumerate(features["partner_id"])}
    from_batch = score_records(
        [api.score_request.model_validate({"partners": [record_of(by_id[r["partner_id"]])]}).partners[0] for r in raw_records],
        served,
        lang="en",
        explain_by_default=False,
    )
    raw_gap = max(abs((a["deactivation_risk"] or 0) - (b["deactivation_risk"] or 0)) for a, b in zip(from_events, from_batch))
    compared = ("segment", "downgrade_warning", "risk_band", "potential_band", "action")
    differ = [(a["partner_id"], k, a[k], b[k]) for a, b in zip(from_events, from_batch) for k in compared if a[k] != b[k]]
    same_action = len(raw_records) - len({d[0] for d in differ})
    print("in-process floor (median of repeated calls, this process):", flush=True)
    for what, ms in floor.items():
        print(f"  {what:<48} {ms:10.3f} ms", flush=True)
    print(
        f"  raw events vs batch features, same partners: max |risk difference| {raw_gap:.2e}; "
        f"{', '.join(compared)} equal for {same_action}/{len(raw_records)}"
        f"{'' if not differ else f' (differ, events vs batch: {differ[:5]})'}",
        flush=True,
    )
    if args.profile:
        _profile(score_records, served, parsed, raw_parsed)

    # Servers ---------------------------------------------------------------------------------------
    first, last = (int(p) for p in args.ports.split("-"))
    ours_port = free_port(first, last, set())
    theirs_port = free_port(first, last, {ours_port})
    env = _quiet_env()
    servers: list[Server] = []
    loader: Any = None
    try:
        ours = Server(
            "ours",
            [str(BIN / "partner-churn"), "serve", "--port", str(ours_port), "--workers", str(args.workers), *_settings(store)],
            env,
            store / "logs" / "ours.log",
            ROOT,
        )
        servers.append(ours)
        theirs = Server(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{RISK_MODEL}/{served.models.risk_version}",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(theirs_port),
                "--workers",
                str(args.workers),
            ],
            {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"},
            store / "logs" / "mlflow.log",
            ROOT,
        )
        servers.append(theirs)
        ours_url, theirs_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
        ready = wait_ready([(ours, f"{ours_url}/readyz"), (theirs, f"{theirs_url}/ping")])
        print(
            f"servers ready: ours on :{ours_port} in {ready['ours']:.1f} s, mlflow on :{theirs_port} in {ready['mlflow']:.1f} s (started together)",
            flush=True,
        )
        _check_answers(ours_url, theirs_url, ours_bodies, raw_bodies, mlflow_bodies, parsed, raw_parsed, pool, served, score_records)

        # Load: wrk, and the Python client for what wrk cannot run ------------------------------------
        def load(label: str, server: str, url: str, bodies: list[bytes], concurrency: int, stagger: float = 0.0) -> dict[str, Any]:
            return {
                "kind": "load",
                "label": label,
                "server": server,
                "url": url,
                "bodies": bodies,
                "concurrency": concurrency,
                "warmup": max(args.warmup, concurrency * stagger + 0.5),
                "duration": args.duration,
                "stagger": stagger,
                "client": "python" if stagger else "wrk",
            }

        def repeated(label: str, server: str, url: str, body: bytes, repeats: int, keep: bool = False) -> dict[str, Any]:
            return {
                "kind": "repeat",
                "label": label,
                "server": server,
                "url": url,
                "body": body,
                "warmup": 1,
                "repeats": repeats,
                "keep_response": keep,
                "client": "python",
            }

        score_url, invocations = f"{ours_url}/score", f"{theirs_url}/invocations"
        schedule = []
        for concurrency in (1, 8, 32):
            schedule.append(load("ours /score, features, reasons", "ours", score_url, ours_bodies, concurrency))
            schedule.append(load("mlflow /invocations, features", "mlflow", invocations, mlflow_bodies, concurrency))
        schedule.append(load("ours /score, features, explain: false", "ours", score_url, plain_bodies, 8))
        schedule.append(load("ours /score, raw events, reasons", "ours", score_url, raw_bodies, 8))
        # Both servers' workers share one listening socket: a burst of new keep-alive connections tends to
        # land on one worker. The same points with connections opened 0.1 s apart show what the second
        # worker adds when it gets its share. wrk 4.1 connects all of a thread's connections when the thread
        # starts (no ramp; its Lua delay() only spaces requests on connections already open), so the Python
        # client runs these.
        schedule.append(load("ours /score, features, reasons, staggered", "ours", score_url, ours_bodies, 8, stagger=0.1))
        schedule.append(load("mlflow /invocations, features, staggered", "mlflow", invocations, mlflow_bodies, 8, stagger=0.1))
        schedule.append(
            repeated(
                f"ours /score_bulk, {BULK_PARTNERS:,} partners, no reasons", "ours", f"{ours_url}/score_bulk", bulk_body, args.bulk_repeats, keep=True
            )
        )
        arrow_point = repeated(
            f"ours /score_arrow, {BULK_PARTNERS:,} partners (Arrow columns), no reasons",
            "ours",
            f"{ours_url}/score_arrow",
            arrow_bulk_body,
            ARROW_REPEATS,
            keep=True,
        )
        schedule.append(arrow_point | {"content_type": "application/vnd.apache.arrow.stream"})
        schedule.append(repeated(f"mlflow /invocations, {BULK_PARTNERS:,} rows", "mlflow", invocations, mlflow_bulk_body, 3))
        schedule.append(
            repeated(f"ours /score_bulk, {EXPLAINED_BULK_PARTNERS:,} partners, no reasons", "ours", f"{ours_url}/score_bulk", unexplained_body, 3)
        )
        schedule.append(
            repeated(
                f"ours /score_bulk, {EXPLAINED_BULK_PARTNERS:,} partners, explain: true",
                "ours",
                f"{ours_url}/score_bulk",
                explained_body,
                3,
                keep=True,
            )
        )

        results: list[dict[str, Any]] = [{} for _ in schedule]
        server_of = {"ours": ours, "mlflow": theirs}
        port_of = {"ours": ours_port, "mlflow": theirs_port}
        cpu_begin: dict[int, tuple[float, dict[int, float]]] = {}
        connections: dict[int, dict[int, int]] = {}

        def begin(i: int) -> None:
            """Measuring point i starts: the server's CPU so far and, once connected, which process holds them."""
            server = server_of[schedule[i]["server"]]
            cpu_begin[i] = (time.perf_counter(), server.cpu_by_pid())
            if schedule[i]["kind"] == "load":
                time.sleep(0.5)  # connections are all open by now; which worker holds them?
                connections[i] = server.connections_by_pid(port_of[schedule[i]["server"]])

        def end(i: int, result: dict[str, Any]) -> None:
            server = server_of[schedule[i]["server"]]
            wall0, cpu0 = cpu_begin.get(i, (time.perf_counter(), server.cpu_by_pid()))
            cpu1, wall = server.cpu_by_pid(), max(time.perf_counter() - wall0, 1e-9)
            per_pid = sorted(((cpu1[pid] - cpu0.get(pid, 0.0)) / wall for pid in cpu1), reverse=True)
            result["server_cpu"] = sum(per_pid)
            result["busiest_processes"] = per_pid[:2]
            held = sorted(connections.get(i, {}).values(), reverse=True)
            held += [0] * (args.workers - len(held)) if held else []  # workers holding none
            result["connections"] = "+".join(str(n) for n in held) if held else "?"
            results[i] = result
            _print_point(schedule[i], result)

        wrk_dir = store / "wrk"
        wrk_dir.mkdir(exist_ok=True)
        script = wrk_dir / "serve_bench.lua"
        script.write_text(WRK_SCRIPT)
        body_files: dict[int, Path] = {}
        for i, point in enumerate(schedule):
            if point["client"] != "wrk":
                continue
            if id(point["bodies"]) not in body_files:
                body_files[id(point["bodies"])] = wrk_dir / f"bodies-{len(body_files)}.txt"
                body_files[id(point["bodies"])].write_bytes(b"".join(body + b"\n" for body in point["bodies"]))
            bodies, concurrency = body_files[id(point["bodies"])], point["concurrency"]
            warmup = wrk_command(point["url"], script, bodies, concurrency, max(1, round(point["warmup"])), args.wrk_threads)
            run_wrk(warmup, concurrency, lambda: None)
            measured = wrk_command(point["url"], script, bodies, concurrency, point["duration"], args.wrk_threads)
            result, client_cpu = run_wrk(measured, concurrency, lambda i=i: begin(i))
            result["client_cpu"] = client_cpu / point["duration"]
            end(i, result)

        python_points = [i for i, point in enumerate(schedule) if point["client"] == "python"]
        context = mp.get_context("spawn")
        reports = context.Queue()
        loader = context.Process(target=load_process, args=([schedule[i] for i in python_points], reports), name="serve-bench-load")
        loader.start()
        finished = 0
        while finished < len(python_points):
            try:
                message = reports.get(timeout=300)
            except Exception:  # noqa: BLE001 - queue.Empty
                raise SystemExit(f"load generator silent for 300 s (alive: {loader.is_alive()})") from None
            i = python_points[message[1]]
            if message[0] == "begin":
                begin(i)
            else:
                end(i, message[2])
                finished += 1
        loader.join(timeout=30)
        _check_bulk(results, schedule)
        _report(schedule, results, floor, model_line, raw_events, when)
    finally:
        if loader is not None and loader.is_alive():
            loader.terminate()
            loader.join(timeout=10)
        for server in servers:
            server.stop()
        leftover = sorted(alive({pid for server in servers for pid in server.started}))
        print(
            f"servers stopped{'' if not leftover else f' (processes left: {leftover})'}; "
            f"bench took {time.perf_counter() - bench_started:.0f} s; load average now {os.getloadavg()[0]:.2f}",
            flush=True,
        )


def _check_answers(
    ours_url: str,
    theirs_url: str,
    ours_bodies: list[bytes],
    raw_bodies: list[bytes],
    mlflow_bodies: list[bytes],
    parsed: list[Any],
    raw_parsed: list[Any],
    pool: list[dict[str, Any]],
    served: Any,
    score_records: Any,
) -> None:
    """Both services answer the first partners as this process does, before anything is timed."""
    import numpy as np

    for k in range(5):
        status, answer = http_post(f"{ours_url}/score", ours_bodies[k])
        if status != 200:
            raise SystemExit(f"ours /score answered {status}: {answer}")
        got, want = answer["scores"][0], score_records([parsed[k]], served, lang="en", explain_by_default=True)[0]
        for key in ("partner_id", "segment", "action", "risk_band", "reasons_source"):
            if got[key] != want[key]:
                raise SystemExit(f"ours /score: {key} {got[key]!r}, in-process {want[key]!r}")
        if (got["deactivation_risk"] is None) != (want["deactivation_risk"] is None) or (
            got["deactivation_risk"] is not None and abs(got["deactivation_risk"] - want["deactivation_risk"]) > 1e-9
        ):
            raise SystemExit(f"ours /score: risk {got['deactivation_risk']}, in-process {want['deactivation_risk']}")
        if not got["reasons"]:
            raise SystemExit(f"ours /score: no reasons in {got}")
        status, theirs = http_post(f"{theirs_url}/invocations", mlflow_bodies[k])
        if status != 200:
            raise SystemExit(f"mlflow /invocations answered {status}: {theirs}")
        row = {
            name: np.asarray([pool[k]["features"][name]], dtype=object if name in served.models.risk.categories else float)
            for name in served.models.risk.features
        }
        expected = float(served.models.risk.predict(row)[0])
        probability = theirs["predictions"][0]["deactivation_risk"]
        if abs(probability - expected) > 1e-9:
            raise SystemExit(f"mlflow: probability {probability}, in-process {expected}")
    status, answer = http_post(f"{ours_url}/score", raw_bodies[0])
    want = score_records([raw_parsed[0]], served, lang="en", explain_by_default=True)[0]
    if (
        status != 200
        or answer["scores"][0]["action"] != want["action"]
        or abs(answer["scores"][0]["deactivation_risk"] - want["deactivation_risk"]) > 1e-9
    ):
        raise SystemExit(f"ours /score (raw events) answered {status}: {str(answer)[:500]}; in-process {want}")
    print(f"answers checked: ours (e.g. {json.dumps(answer['scores'][0])[:300]}...); mlflow (e.g. {json.dumps(theirs)})", flush=True)


def _check_bulk(results: list[dict[str, Any]], schedule: list[dict[str, Any]]) -> None:
    for point, result in zip(schedule, results):
        if point["kind"] != "repeat" or not point.get("keep_response") or not result.get("response"):
            continue
        if point.get("content_type", "").startswith("application/vnd.apache.arrow"):
            import pyarrow as pa

            answer = pa.ipc.open_stream(result["response"]).read_all().to_pylist()
        else:
            answer = json.loads(result["response"])
        sizes = len(answer)
        with_reasons = sum(1 for a in answer if a.get("reasons"))
        complete = all(a.get("segment") and a.get("action") and "upgrade_potential" in a for a in answer)
        print(
            f"  checked {point['label']}: {sizes:,} answers, every one with segment and action: {complete}; with reasons: {with_reasons:,}",
            flush=True,
        )
        result["checked"] = f"{sizes:,} answers, reasons for {with_reasons:,}"


def _print_point(point: dict[str, Any], result: dict[str, Any]) -> None:
    if point["kind"] == "load":
        corrected = f" (wrk's corrected {result['wrk_p99_ms']:.1f})" if "wrk_p99_ms" in result else ""
        print(
            f"  {point['label']:<42} c={point['concurrency']:<3} {result['throughput']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
            f"p99 {result['p99_ms']:7.1f} ms{corrected}  errors {result['errors']}  server CPU {result['server_cpu']:.2f} "
            f"(busiest {'/'.join(f'{c:.2f}' for c in result['busiest_processes'])})  connections per process {result['connections']}  "
            f"client ({point['client']}) CPU {result['client_cpu']:.2f}{'  ' + result['first_error'] if result['errors'] else ''}",
            flush=True,
        )
    else:
        times = ", ".join(f"{t:.3f}" for t in result["times"])
        print(
            f"  {point['label']:<54} median {result['median_s']:.3f} s ({times}); response {result['response_bytes'] / 1e6:.1f} MB; "
            f"errors {result['errors']}{'  ' + result['first_error'] if result['errors'] else ''}",
            flush=True,
        )


def _report(
    schedule: list[dict[str, Any]], results: list[dict[str, Any]], floor: dict[str, float], model_line: str, raw_events: list[int], when: str
) -> None:
    import numpy as np

    def find(label_start: str, concurrency: int | None = None) -> dict[str, Any]:
        for point, result in zip(schedule, results):
            matches = point["label"] == label_start if point["kind"] == "load" else point["label"].startswith(label_start)
            if matches and (concurrency is None or point.get("concurrency") == concurrency):
                return result
        return {}

    print(f"\n## Scoring service ({when}; {model_line})\n")
    print(
        "| request | concurrency | throughput (req/s) | p50 (ms) | p99 (ms) | errors | server CPU, cores (2 busiest processes) | connections per worker | client CPU (cores) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for point, result in zip(schedule, results):
        if point["kind"] == "load":
            print(
                f"| {point['label']} | {point['concurrency']} | {result['throughput']:.0f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | "
                f"{result['errors']} | {result['server_cpu']:.2f} ({' / '.join(f'{c:.2f}' for c in result['busiest_processes'])}) | "
                f"{result['connections']} | {result['client_cpu']:.2f} |"
            )
    print(
        f"\nclients: wrk ({WRK_TIMEOUT_S} s timeout; p50/p99 as measured, not wrk's coordinated-omission correction), "
        "except the staggered points and the bulk requests: the Python client (aiohttp)"
    )
    print("\n| bulk request (end to end from the client) | median | all runs (s) | response | errors |")
    print("|---|---|---|---|---|")
    for point, result in zip(schedule, results):
        if point["kind"] == "repeat":
            print(
                f"| {point['label']} | {result['median_s']:.3f} s | {', '.join(f'{t:.3f}' for t in result['times'])} | "
                f"{result['response_bytes'] / 1e6:.1f} MB | {result['errors']} |"
            )
    print("\n| in process (median of repeated calls) | ms |")
    print("|---|---|")
    for what, ms in floor.items():
        print(f"| {what} | {ms:.3f} |")

    print("\ntargets:")
    ours8 = find("ours /score, features, reasons", 8)
    p99 = ours8.get("p99_ms", math.nan)
    print(f"  single-partner p99 at concurrency 8 <= {P99_TARGET_MS:.0f} ms: {p99:.1f} ms: {'met' if p99 <= P99_TARGET_MS else 'MISSED'}")
    for concurrency in (1, 8, 32):
        a, b = find("ours /score, features, reasons", concurrency), find("mlflow /invocations, features", concurrency)
        ratio = a.get("throughput", math.nan) / b.get("throughput", math.nan)
        print(
            f"  throughput >= {THROUGHPUT_RATIO_TARGET:.0f}x mlflow at concurrency {concurrency}: {a.get('throughput', math.nan):.0f} vs "
            f"{b.get('throughput', math.nan):.0f} req/s = {ratio:.2f}x: {'met' if ratio >= THROUGHPUT_RATIO_TARGET else 'MISSED'}"
            f"{' (the target point)' if concurrency == 8 else ''}"
        )
    a, b = find("ours /score, features, reasons, staggered", 8), find("mlflow /invocations, features, staggered", 8)
    if a and b:
        print(
            f"  the same at concurrency 8 with connections opened 0.1 s apart: ours {a['throughput']:.0f} req/s, p99 {a['p99_ms']:.1f} ms "
            f"(connections {a['connections']}); mlflow {b['throughput']:.0f} req/s (connections {b['connections']}); "
            f"ratio {a['throughput'] / b['throughput']:.2f}x"
        )
    bulk = find(f"ours /score_bulk, {BULK_PARTNERS:,}")
    median = bulk.get("median_s", math.nan)
    print(
        f"  {BULK_PARTNERS:,} partners in one request < {BULK_TARGET_S:.0f} s: median {median:.3f} s: {'met' if median < BULK_TARGET_S else 'MISSED'}"
    )
    arrow = find(f"ours /score_arrow, {BULK_PARTNERS:,}")
    times = arrow.get("times") or [math.nan]
    median, worst = arrow.get("median_s", math.nan), max(times)
    print(
        f"  {BULK_PARTNERS:,} partners as Arrow columns < {ARROW_MEDIAN_TARGET_S} s median, < {ARROW_WORST_TARGET_S} s worst of {len(times)}: "
        f"median {median:.3f} s, worst {worst:.3f} s: {'met' if median < ARROW_MEDIAN_TARGET_S and worst < ARROW_WORST_TARGET_S else 'MISSED'}"
    )
    plain, explained = (
        find(f"ours /score_bulk, {EXPLAINED_BULK_PARTNERS:,} partners, no"),
        find(f"ours /score_bulk, {EXPLAINED_BULK_PARTNERS:,} partners, explain"),
    )
    extra = (explained.get("median_s", math.nan) - plain.get("median_s", math.nan)) / EXPLAINED_BULK_PARTNERS * 1e3
    print(
        f"  reasons in bulk: {extra:.2f} ms per partner over the service (1,000 with reasons vs without); "
        f"in process {(floor[f'score_records, {EXPLAINED_BULK_PARTNERS:,} records, reasons'] - floor[f'score_records, {EXPLAINED_BULK_PARTNERS:,} records, no reasons']) / EXPLAINED_BULK_PARTNERS:.2f} ms"
    )
    print(f"  raw-events bodies: {min(raw_events)}-{max(raw_events)} events a partner (median {int(np.median(raw_events))})")


def _profile(score_records: Any, served: Any, parsed: list[Any], raw_parsed: list[Any]) -> None:
    import cProfile
    import io
    import pstats

    for label, records in (("1 record with reasons", parsed), ("1 raw-events record with reasons", raw_parsed)):
        profiler = cProfile.Profile()
        profiler.enable()
        for k in range(200 if records is parsed else 30):
            score_records([records[k % len(records)]], served, lang="en", explain_by_default=True)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"cProfile of score_records, {label}:\n{out.getvalue()}", flush=True)


if __name__ == "__main__":
    main()
