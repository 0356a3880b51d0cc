"""The figures program owners track (the design's "What owners track"), at a cutoff: active partners,
partner churn rate, revenue from existing partners and its change, time to first result.

Pure: contract-shaped frames and the scoring's frame in, a dict of floats out (`KPI_KEYS`); the report
shows them, the scoring writes them beside the risk list.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from features.schema import SALE
from partner_churn.config import Config
from partner_churn.domain import active_mask, utc

REVENUE_WINDOW_DAYS = 30
"""Window of the existing-partner revenue KPI; the change compares it with the window before."""
FIRST_RESULT_WINDOW_DAYS = 90
"""Time to first result counts partners whose first sale fell in this many days before the cutoff."""

KPI_KEYS = (
    "partners",
    "active_partners",
    "active_partners_before",
    "churned_partners",
    "partner_churn_rate",
    "existing_partner_revenue",
    "existing_partner_revenue_previous",
    "existing_partner_revenue_change",
    "first_results",
    "days_to_first_result",
)
"""Keys of `program_kpis`; counts are floats too, so the dict is one type."""


def program_kpis(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    scored: pd.DataFrame,
) -> dict[str, float]:
    """The figures owners track, at `as_of`, from contract-shaped frames and the scoring's frame.

    Active partners come from the scored frame (days_since_last_activity within the active window), so
    the report agrees with the risk list; the rest from events before `as_of`, with the definitions the
    report's footnote states (keys: `KPI_KEYS`). Rates and medians are NaN when their base is empty.
    """
    as_of = utc(as_of)
    window = pd.Timedelta(days=config.labels.active_window_days)
    signup_all = pd.to_datetime(partners["signup_at"], utc=True)
    kept = (signup_all < as_of).to_numpy()
    ids = pd.Index(partners["partner_id"].astype(str).to_numpy()[kept])
    signup = pd.DatetimeIndex(signup_all[kept])

    code = _partner_codes(events["partner_id"], ids)
    ts = pd.DatetimeIndex(pd.to_datetime(events["ts"], utc=True))
    seen = (code >= 0) & (ts < as_of)
    qualifying = seen & events["event_type"].isin(list(config.labels.qualifying_event_types)).to_numpy()
    sale = seen & (events["event_type"] == SALE).to_numpy()  # compares categorical codes: no 25M-string copy
    amount = events["amount"].to_numpy(dtype=float)

    now_active = np.unique(code[qualifying & (ts >= as_of - window)])
    before_active = np.unique(code[qualifying & (ts >= as_of - 2 * window) & (ts < as_of - window)])
    churned = np.setdiff1d(before_active, now_active)

    active_partners = float(active_mask(scored, config).sum()) if len(scored) else 0.0

    revenue_window = pd.Timedelta(days=REVENUE_WINDOW_DAYS)
    sale_code, sale_ts, sale_amount = code[sale], ts[sale], amount[sale]
    revenue_now = _existing_revenue(sale_code, sale_ts, sale_amount, signup, as_of, revenue_window)
    revenue_before = _existing_revenue(sale_code, sale_ts, sale_amount, signup, as_of - revenue_window, revenue_window)

    first_sale = pd.Series(sale_ts, index=sale_code).groupby(level=0).min()
    recent = first_sale[first_sale >= as_of - pd.Timedelta(days=FIRST_RESULT_WINDOW_DAYS)]
    days_to_first = (pd.DatetimeIndex(recent) - signup[recent.index.to_numpy()]) / pd.Timedelta(days=1) if len(recent) else []

    return {
        "partners": float(len(ids)),
        "active_partners": active_partners,
        "active_partners_before": float(before_active.size),
        "churned_partners": float(churned.size),
        "partner_churn_rate": churned.size / before_active.size if before_active.size else math.nan,
        "existing_partner_revenue": revenue_now,
        "existing_partner_revenue_previous": revenue_before,
        "existing_partner_revenue_change": revenue_now / revenue_before - 1.0 if revenue_before > 0 else math.nan,
        "first_results": float(len(recent)),
        "days_to_first_result": float(np.median(days_to_first)) if len(days_to_first) else math.nan,
    }


def _partner_codes(partner_id: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each event's partner in `ids`, -1 for partners not there (categoricals kept cheap)."""
    if isinstance(partner_id.dtype, pd.CategoricalDtype):
        by_category = ids.get_indexer(partner_id.cat.categories.astype(str))
        codes = partner_id.cat.codes.to_numpy()
        return np.where(codes >= 0, by_category[codes], -1)
    return ids.get_indexer(partner_id.astype(str))


def _existing_revenue(
    code: np.ndarray, ts: pd.DatetimeIndex, amount: np.ndarray, signup: pd.DatetimeIndex, end: pd.Timestamp, window: pd.Timedelta
) -> float:
    """Sale revenue in [end - window, end) from partners signed up before end - window."""
    start = end - window
    inside = (ts >= start) & (ts < end) & (signup[code] < start)
    return float(amount[inside].sum())
