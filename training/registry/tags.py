"""How figures, moments and people are written into MLflow tags (registry versions, runs, decisions)."""

from __future__ import annotations

import getpass
import math

import pandas as pd


def figure_tag(value: float | None) -> str:
    """A figure as six decimals; '' when there is none or it is not finite."""
    if value is None or not math.isfinite(float(value)):
        return ""
    return f"{float(value):.6f}"


def utc_now() -> str:
    """Now, in UTC, to the second (ISO 8601)."""
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")


def current_user() -> str:
    """Who runs this process ('unknown' when the system cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
