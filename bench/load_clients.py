"""The serving benchmark's load clients: wrk for the ordinary load points (a Lua script per request
shape), and a Python (aiohttp) client in its own process for what wrk cannot run: connections opened
apart, and bulk requests timed one by one with their answers kept."""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------------------------------
# Load points through wrk

# Posts the bodies of `args[1]` (one a line) in turn; counts non-2xx answers; `done()` writes one JSON line.
# wrk 4.1 corrects its latency histogram for coordinated omission before `done()` sees it (stats_correct: for
# every latency of at least twice the mean interval between one connection's requests, copies at that
# latency minus 1, 2, ... intervals). `done()` reports those corrected percentiles as wrk_p*_us, and also
# the measured ones (p*_us): the correction is undone on the histogram itself, which wrk 4.1 lays out as
# {count, limit, min, max, data[]} (src/stats.h), one bucket per microsecond. raw_recorded must equal
# requests - timeout: that checks the undoing.
WRK_SCRIPT = r"""
local ffi = require("ffi")
local requests, turn = {}, 0
non2xx, first_error = 0, ""

function init(args)
   for line in io.lines(args[1]) do
      requests[#requests + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, line)
   end
end

function request()
   turn = turn % #requests + 1
   return requests[turn]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_error == "" then first_error = status .. ": " .. string.sub(body or "", 1, 200) end
   end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

local function escaped(text)
   return (text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end))
end

function done(summary, latency, _)
   local failed, first = 0, ""
   for _, thread in ipairs(threads) do
      failed = failed + thread:get("non2xx")
      if first == "" then first = thread:get("first_error") end
   end
   local s = ffi.cast("uint64_t **", ffi.cast("void *", latency))[0]
   local low, high, data = tonumber(s[2]), tonumber(s[3]), s + 4
   local per_connection = math.floor(summary.requests / tonumber(os.getenv("SERVE_BENCH_CONNECTIONS")))
   local interval = per_connection > 0 and math.floor(summary.duration / per_connection) or 0
   local function measured(m)
      local n = tonumber(data[m])
      if interval > 0 and m > interval and m + interval <= high then n = n - tonumber(data[m + interval]) end
      return n
   end
   local recorded = 0
   for m = low, high do recorded = recorded + measured(m) end
   local function order_statistic(k)  -- the k-th smallest measured latency, from 0
      local seen = 0
      for m = low, high do
         seen = seen + measured(m)
         if seen > k then return m end
      end
      return high
   end
   local function percentile(q)  -- as numpy.percentile: linear between the two nearest order statistics
      if recorded == 0 then return -1 end
      local h = (recorded - 1) * q / 100
      local k = math.floor(h)
      local a = order_statistic(k)
      return a + (h - k) * (order_statistic(math.min(k + 1, recorded - 1)) - a)
   end
   local e = summary.errors
   io.write(string.format(
      'SERVE_BENCH_WRK {"duration_us": %.0f, "requests": %.0f, "non2xx": %.0f, "first_error": "%s", ' ..
      '"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f, "raw_recorded": %.0f, ' ..
      '"interval_us": %.0f, "p50_us": %.1f, "p90_us": %.1f, "p99_us": %.1f, ' ..
      '"wrk_p50_us": %.0f, "wrk_p90_us": %.0f, "wrk_p99_us": %.0f}\n',
      summary.duration, summary.requests, failed, escaped(first), e.connect, e.read, e.write, e.status, e.timeout,
      recorded, interval, percentile(50), percentile(90), percentile(99),
      latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""
WRK_TIMEOUT_S = 10  # latencies at or above this count as errors (wrk's histogram holds this many seconds)


def wrk_command(url: str, script: Path, bodies: Path, concurrency: int, seconds: int, threads: int) -> list[str]:
    """The wrk run of one load point: `concurrency` connections on `threads` threads for `seconds`."""
    return [
        "wrk",
        "-t",
        str(min(threads, concurrency)),
        "-c",
        str(concurrency),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        f"{WRK_TIMEOUT_S}s",
        "-s",
        str(script),
        url,
        "--",
        str(bodies),
    ]


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures of wrk's output (the `done()` line): the fields `_closed_loop` reports, and wrk's own."""
    lines = [line for line in output.splitlines() if line.startswith("SERVE_BENCH_WRK ")]
    if not lines:
        raise SystemExit(f"wrk wrote no figures:\n{output[-2000:]}")
    got = json.loads(lines[-1].split(" ", 1)[1])
    seconds = got["duration_us"] / 1e6
    socket_errors = got["connect"] + got["read"] + got["write"] + got["timeout"]
    ok = got["requests"] - got["non2xx"]
    if got["raw_recorded"] != got["requests"] - got["timeout"]:
        raise SystemExit(f"wrk: undoing its latency correction left {got['raw_recorded']} of {got['requests'] - got['timeout']} latencies")
    first_error = got["first_error"] or (
        f"socket errors: connect {got['connect']}, read {got['read']}, write {got['write']}, timeout {got['timeout']}" if socket_errors else ""
    )
    return {
        "requests": ok,
        "throughput": ok / seconds,
        "p50_ms": got["p50_us"] / 1e3,
        "p90_ms": got["p90_us"] / 1e3,
        "p99_ms": got["p99_us"] / 1e3,
        "wrk_p99_ms": got["wrk_p99_us"] / 1e3,
        "errors": got["non2xx"] + socket_errors,
        "first_error": first_error,
    }


def run_wrk(command: list[str], connections: int, on_begin: Any) -> tuple[dict[str, Any], float]:
    """Run one wrk command; `on_begin()` once it has started. Its figures and the CPU seconds wrk used."""
    env = {**os.environ, "SERVE_BENCH_CONNECTIONS": str(connections)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    on_begin()
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"wrk exited with {process.returncode}: {' '.join(command)}\n{output[-2000:]}")
    return parse_wrk(output), usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------------------------------
# The Python client: the points wrk cannot run (runs in its own process; imports only what it needs)


def load_process(schedule: list[dict[str, Any]], reports: Any) -> None:
    """Run every point of `schedule` in order; send ("begin", i) when measuring starts, ("end", i, result)."""
    import asyncio

    asyncio.run(_run_schedule(schedule, reports))


async def _run_schedule(schedule: list[dict[str, Any]], reports: Any) -> None:
    import aiohttp

    for i, point in enumerate(schedule):
        connector = aiohttp.TCPConnector(limit=max(point.get("concurrency", 1), 1), force_close=False)
        timeout = aiohttp.ClientTimeout(total=180)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            if point["kind"] == "load":
                result = await _closed_loop(session, point, lambda: reports.put(("begin", i)))
            else:
                reports.put(("begin", i))
                result = await _repeated(session, point)
        reports.put(("end", i, result))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _closed_loop(session: Any, point: dict[str, Any], on_begin: Any) -> dict[str, Any]:
    """`concurrency` connections, each sending the next body as soon as its answer is read, for
    `warmup` + `duration` seconds; only requests completed in the measured window count. Only the
    staggered points run here (connection k opens k * `stagger` s after the first): wrk cannot."""
    import asyncio

    bodies, url, concurrency = point["bodies"], point["url"], point["concurrency"]
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    measure_from = started + point["warmup"]
    stop_at = measure_from + point["duration"]
    latencies: list[float] = []
    errors: list[str] = []
    counter = [0]
    begun = [False]
    cpu_at_begin = [0.0]

    async def connection(k: int) -> None:
        await asyncio.sleep(k * point.get("stagger", 0.0))  # open this connection later than the previous one
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            if now >= measure_from and not begun[0]:
                begun[0] = True
                cpu_at_begin[0] = _cpu_seconds()
                on_begin()
            body = bodies[counter[0] % len(bodies)]
            counter[0] += 1
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                status, payload = -1, repr(exc).encode()
            done = time.perf_counter()
            if measure_from <= done <= stop_at:
                if status == 200:
                    latencies.append(done - sent)
                else:
                    errors.append(f"{status}: {payload[:200]!r}")

    await asyncio.gather(*(connection(k) for k in range(concurrency)))
    cpu = _cpu_seconds() - cpu_at_begin[0]
    window = point["duration"]
    return {
        "requests": len(latencies),
        "throughput": len(latencies) / window,
        "p50_ms": _percentile(latencies, 50) * 1e3,
        "p99_ms": _percentile(latencies, 99) * 1e3,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "client_cpu": cpu / window,
    }


async def _repeated(session: Any, point: dict[str, Any]) -> dict[str, Any]:
    """One body sent `warmup` times unmeasured, then `repeats` times one after another, timed end to end
    (as the point's `content_type`, default JSON)."""
    headers = {"Content-Type": point.get("content_type", "application/json")}
    times, errors, last = [], [], b""
    for k in range(point["warmup"] + point["repeats"]):
        sent = time.perf_counter()
        async with session.post(point["url"], data=point["body"], headers=headers) as response:
            payload = await response.read()
            status = response.status
        elapsed = time.perf_counter() - sent
        if status != 200:
            errors.append(f"{status}: {payload[:300]!r}")
        elif k >= point["warmup"]:
            times.append(elapsed)
        last = payload
    return {
        "times": times,
        "median_s": statistics.median(times) if times else math.nan,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "response": last if point.get("keep_response") else b"",
        "response_bytes": len(last),
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    import numpy as np

    return float(np.percentile(np.asarray(values), q))
