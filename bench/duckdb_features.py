"""The window count and sum features computed by DuckDB SQL straight from a program's Parquet files.

A second, independent implementation of `{event_type}_count_{w}d`, `revenue_{w}d` and
`payout_paid_amount_{w}d` (definitions in `features/schema.py`): the tests check `build_features`
against it, and `bench/features_bench.py` times our pipeline against it. DuckDB is a dev dependency,
so only `bench/` and `tests/` import this module.

The SQL follows the definitions literally, event by event: each event is joined to every cutoff t
with t - (longest window) <= ts < t, then counted or summed per (partner, t) under one filter per
feature. Partners signed up before t without such events get zeros through a left join from
partners x cutoffs. For cutoffs at UTC midnight, `by_day` first rolls the events in range up to
(partner, event type, UTC day) rows, as our pipeline does, and joins those instead: the same result
with far fewer joined rows when there are many cutoffs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from partner_churn.config import Config

SALE, PAYOUT_PAID = "sale", "payout_paid"
DAY_US = 86_400 * 10**6


def window_feature_names(config: Config) -> list[str]:
    """The window count and sum features this module computes, in `feature_schema(config)` order."""
    windows = config.features.windows_days
    names = [f"{event_type}_count_{w}d" for event_type in config.data.event_types for w in windows]
    for w in windows:
        names += [f"revenue_{w}d", f"payout_paid_amount_{w}d"]
    return names


def window_features_sql(config: Config, *, by_day: bool = False) -> str:
    """The query; it reads the Parquet paths from parameters $partners and $events and a `cutoff_list` table.

    `by_day` first rolls events up to (partner, event type, UTC day) rows, which is exact only for
    cutoffs at UTC midnight: a whole day is then either inside a window or outside it.
    """
    windows = sorted(set(config.features.windows_days))
    count = "sum(e.events)" if by_day else "count(*)"
    aggregates, outputs = [], []

    def add(name: str, aggregate: str, event_type: str, w: int, zero: str, kind: str) -> None:
        in_window = f"e.event_type = {_text(event_type)} AND e.ts >= c.since_{w}d"
        aggregates.append(f"{aggregate} FILTER (WHERE {in_window}) AS {_name(name)}")
        outputs.append(f"coalesce(w.{_name(name)}, {zero})::{kind} AS {_name(name)}")

    for event_type in config.data.event_types:
        for w in config.features.windows_days:
            add(f"{event_type}_count_{w}d", count, event_type, w, "0", "BIGINT")
    for w in config.features.windows_days:
        add(f"revenue_{w}d", "sum(e.amount)", SALE, w, "0.0", "DOUBLE")
        add(f"payout_paid_amount_{w}d", "sum(e.amount)", PAYOUT_PAID, w, "0.0", "DOUBLE")
    if by_day:
        events = f"""
    SELECT partner_id, event_type, to_timestamp(utc_day * 86400) AS ts, count(*) AS events, sum(amount) AS amount
    FROM (
        SELECT partner_id, event_type, amount, epoch_us(ts) // {DAY_US} AS utc_day
        FROM read_parquet($events)
        WHERE ts >= (SELECT min(since_{windows[-1]}d) FROM cutoffs) AND ts < (SELECT max(as_of) FROM cutoffs)
    )
    GROUP BY partner_id, event_type, utc_day"""
    else:
        events = """
    SELECT partner_id, event_type, ts, amount
    FROM read_parquet($events)"""
    sep = ",\n    "
    starts = [f"as_of - INTERVAL {w} DAY AS since_{w}d" for w in windows]
    return f"""
WITH cutoffs AS (
    SELECT as_of, {", ".join(starts)}
    FROM cutoff_list
),
partners AS (
    SELECT partner_id, signup_at, file_row_number AS partner_order
    FROM read_parquet($partners, file_row_number = true)
),
events AS ({events}
),
windowed AS (
    SELECT
    e.partner_id,
    c.as_of,
    {sep.join(aggregates)}
    FROM events AS e
    JOIN cutoffs AS c ON e.ts < c.as_of AND e.ts >= c.since_{windows[-1]}d
    GROUP BY e.partner_id, c.as_of
)
SELECT
    p.partner_id,
    c.as_of,
    {sep.join(outputs)}
FROM partners AS p
JOIN cutoffs AS c ON p.signup_at < c.as_of
LEFT JOIN windowed AS w ON w.partner_id = p.partner_id AND w.as_of = c.as_of
ORDER BY c.as_of, p.partner_order
"""


def duckdb_window_features(
    partners_path: Path,
    events_path: Path,
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    *,
    by_day: bool = False,
    threads: int | None = None,
) -> pd.DataFrame:
    """partner_id, as_of and the window features per (cutoff, partner signed up before it).

    Rows are sorted like `build_features`: by as_of, then the partners file's order. `by_day` rolls
    events up to UTC days first (faster for many cutoffs; cutoffs must then be UTC midnights). Runs
    on an in-memory DuckDB with `threads` threads (default: every core); day arithmetic is in UTC.
    """
    stamps = pd.DatetimeIndex([_utc(c) for c in cutoffs]).unique().sort_values()
    if by_day and (stamps.asi8 % (DAY_US * 1_000)).any():
        raise ValueError(f"by_day needs cutoffs at UTC midnight, got {[str(s) for s in stamps[stamps.asi8 % (DAY_US * 1_000) != 0][:5]]}")
    connection = duckdb.connect(":memory:", config={"threads": threads or os.cpu_count() or 1})
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_progress_bar = false")
        connection.register("cutoff_list", pa.table({"as_of": pa.array(stamps.as_unit("us"), pa.timestamp("us", tz="UTC"))}))
        frame = connection.execute(window_features_sql(config, by_day=by_day), {"partners": str(partners_path), "events": str(events_path)}).df()
    finally:
        connection.close()
    frame["partner_id"] = frame["partner_id"].astype(object)
    frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True).astype("datetime64[ns, UTC]")
    return frame


def _utc(stamp: pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
