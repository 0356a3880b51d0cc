"""The few per-partner facts at a cutoff that segments and program KPIs need.

Point in time: only events with `ts < as_of` count. Day windows are whole 24-hour periods counted back
from `as_of` (day 0 is [as_of - 1 day, as_of)), so "active days in the last 30" counts distinct such
periods with a qualifying event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from partner_churn.config import Config
from segments.rules import assign_segments

DAY = pd.Timedelta(days=1)


def activity_snapshot(partners: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """One row per partner signed up before `as_of`: tenure, activity, revenue, first sale, segment.

    `events.partner_id` is a Categorical over `partners.partner_id` (as the contract loader returns it).
    """
    signed_up = partners["signup_at"] < as_of
    codes_of_partner = np.flatnonzero(signed_up.to_numpy())
    past = events_before(events, as_of)
    code = past["partner_id"].cat.codes.to_numpy()
    ts_ns = _nanoseconds(past["ts"])
    days_ago = (as_of.value - ts_ns) // DAY.value
    n = len(partners)

    qualifying = past["event_type"].isin(config.labels.qualifying_event_types).to_numpy()
    q_code, q_days = code[qualifying], days_ago[qualifying]
    last_q_days = np.full(n, np.inf)
    np.minimum.at(last_q_days, q_code, q_days.astype(float))
    in_30 = q_days < 30
    active_days_30 = _distinct_days(q_code[in_30], q_days[in_30], n)
    in_play = np.isfinite(last_q_days) & (last_q_days < config.segments.in_play_window_days)

    sale = (past["event_type"] == "sale").to_numpy()
    amount = past["amount"].to_numpy()
    window = sale & (days_ago < config.segments.revenue_window_days)
    revenue_window = np.bincount(code[window], weights=amount[window], minlength=n)
    revenue_30 = np.bincount(code[sale & (days_ago < 30)], weights=amount[sale & (days_ago < 30)], minlength=n)
    first_sale_ns = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_sale_ns, code[sale], ts_ns[sale])
    first_sale_at = pd.to_datetime(np.where(first_sale_ns == np.iinfo(np.int64).max, pd.NaT.value, first_sale_ns), utc=True)

    tenure_days = ((as_of - partners["signup_at"]) / DAY).to_numpy()
    frame = pd.DataFrame(
        {
            "partner_id": partners["partner_id"].to_numpy(),
            "signup_at": partners["signup_at"].array,
            "tenure_days": tenure_days,
            "active_days_30": active_days_30,
            "days_since_last_activity": last_q_days,
            "active": last_q_days < config.labels.active_window_days,
            "in_play": in_play,
            "revenue_30d": revenue_30,
            "revenue_window": revenue_window,
            "first_sale_at": first_sale_at,
        }
    )
    frame = frame.iloc[codes_of_partner].reset_index(drop=True)
    frame["segment"] = assign_segments(
        frame["tenure_days"].to_numpy(),
        frame["active_days_30"].to_numpy(),
        frame["days_since_last_activity"].to_numpy(),
        frame["revenue_window"].to_numpy(),
        config.segments,
    )
    return frame


def events_before(events: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Events with `ts < as_of` (the frame itself, not a copy, when all of them are)."""
    before = events["ts"] < as_of
    return events if bool(before.all()) else events[before]


def _nanoseconds(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds (avoids pandas' per-element object conversion)."""
    return timestamps.array.asi8


def _distinct_days(code: np.ndarray, days_ago: np.ndarray, n: int) -> np.ndarray:
    """Number of distinct day offsets per partner code."""
    if code.size == 0:
        return np.zeros(n, dtype=np.int64)
    pairs = np.unique(code.astype(np.int64) * 1_000_000 + days_ago.astype(np.int64))
    return np.bincount(pairs // 1_000_000, minlength=n)
