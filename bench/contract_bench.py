"""Benchmark: the service's contract under abuse, as issue #13 measured it. Start-up time of
`partner-churn serve` (process start to the first 200 of /readyz, several starts), a 95 MB body of
767,025 partner records (refused in how long, the workers' memory before, at the peak and after), and
how long `partner-churn serve` takes to leave no process behind after SIGTERM.

Setup (not timed): the program and models of `bench.serve_bench` (20,000 partners, 18 months, seed 7,
in `work/serve-bench/`, reused when there). The service runs with `--workers 2`.

Run: `.venv/bin/python -m bench.contract_bench [--starts 3]`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import threading
import time
from pathlib import Path

import psutil

from bench.serve_bench import BIN, QUIET, ROOT, Server, _free_port, _get, _quiet_env, _settings, prepare_store

BIG_RECORDS = 767_025
"""The count issue #13 sent in one 95 MB body."""


def _big_body(count: int) -> bytes:
    """`count` small raw-events records, 124 bytes each (95 MB for 767,025, under the 100 MB byte limit)."""
    record = '{"partner_id":"P%06d","partner":{"signup_at":"2026-01-10T09:00Z"},"events":[{"ts":"2026-02-01T00Z","event_type":"login"}]}'
    return ('{"partners":[' + ",".join(record % i for i in range(count)) + "]}").encode()


def _family(server: Server) -> list[psutil.Process]:
    return [psutil.Process(pid) for pid in server.pids() if pid != server.process.pid]


def _rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def _post_raw(port: int, body: bytes, token: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", "/score", body=body, headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    payload = answer.read()
    connection.close()
    return answer.status, payload, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, default=ROOT / "work" / "serve-bench")
    parser.add_argument("--starts", type=int, default=3, help="service starts timed (median reported)")
    parser.add_argument("--big-repeats", type=int, default=3, help="95 MB requests sent")
    args = parser.parse_args()
    os.environ.update(QUIET)
    store = args.store.absolute()
    prepare_store(store, 20_000, fresh=False)
    token = "bench-token"
    env = {**_quiet_env(), "PARTNER_CHURN_API_TOKEN": token}
    body = _big_body(BIG_RECORDS)
    print(f"body: {len(body) / 1e6:.1f} MB, {BIG_RECORDS:,} records", flush=True)

    starts, stops = [], []
    for attempt in range(args.starts):
        port = _free_port(3340, 3360, set())
        server = Server(
            "ours",
            [str(BIN / "partner-churn"), "serve", "--port", str(port), "--workers", "2", *_settings(store)],
            env,
            store / "logs" / f"contract-{attempt}.log",
        )
        started = time.perf_counter()
        try:
            while _get(f"http://127.0.0.1:{port}/readyz") != 200:
                if server.process.poll() is not None:
                    raise SystemExit(f"the service exited: {server.tail()}")
                time.sleep(0.1)
            starts.append(time.perf_counter() - started)
            print(f"start {attempt + 1}: ready in {starts[-1]:.1f} s", flush=True)
            if attempt == 0:
                workers = _family(server)
                before = _rss_mb(workers)
                peak = [before]
                watching = threading.Event()

                def watch() -> None:
                    while not watching.is_set():
                        peak.append(_rss_mb(workers))
                        time.sleep(0.02)

                watcher = threading.Thread(target=watch)
                watcher.start()
                answers = [_post_raw(port, body, token) for _ in range(args.big_repeats)]
                watching.set()
                watcher.join()
                time.sleep(2)
                after = _rss_mb(workers)
                for status, payload, seconds in answers:
                    print(f"95 MB body: {status} in {seconds:.2f} s: {json.loads(payload)['error'][:90]}", flush=True)
                print(
                    f"server processes' RSS: {before:.0f} MB before, {max(peak):.0f} MB at the peak, {after:.0f} MB 2 s after "
                    f"({len(workers)} processes)",
                    flush=True,
                )
            family = _family(server)
            stopping = time.perf_counter()
            os.kill(server.process.pid, signal.SIGTERM)
            code = server.process.wait(timeout=90)
            gone, alive = psutil.wait_procs(family, timeout=30)
            stops.append(time.perf_counter() - stopping)
            print(f"SIGTERM: exit {code}, {len(gone)} of {len(family)} processes gone in {stops[-1]:.1f} s, {len(alive)} left", flush=True)
        finally:
            server.stop()
    print(
        f"start-up: median {statistics.median(starts):.1f} s (min {min(starts):.1f}, max {max(starts):.1f}) over {len(starts)} starts; "
        f"stop after SIGTERM: median {statistics.median(stops):.1f} s"
    )


if __name__ == "__main__":
    main()
