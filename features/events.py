"""The events as the arrays program-wide figures scan (the owner KPIs, the LTV's pace growth): each event's
partner position, time, whether it qualifies as activity and whether it is a sale, with its amount; built
once per scoring, read by every figure of every cutoff."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import SALE
from partner_churn.config import Config
from partner_churn.domain import partner_positions


@dataclass(frozen=True)
class EventArrays:
    """Events of the partners of a partners frame, as arrays (events of other partners are never marked)."""

    ids: pd.Index
    """partner_id of each partner, in the partners frame's order."""
    signup: pd.DatetimeIndex
    """Sign-up time of each partner (UTC)."""
    code: np.ndarray
    """Each event's partner position in `ids`, -1 for a partner not there."""
    ts: pd.DatetimeIndex
    qualifying: np.ndarray
    """Events of known partners whose type is one of `labels.qualifying_event_types`."""
    sale: np.ndarray
    """Sales of known partners."""
    amount: np.ndarray

    def active_between(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Per partner: a qualifying event in [start, end) (`active_mask`'s rule, read from the events)."""
        inside = self.qualifying & (self.ts >= start) & (self.ts < end)
        return np.bincount(self.code[inside], minlength=len(self.ids))[: len(self.ids)] > 0

    @classmethod
    def of(cls, partners: pd.DataFrame, events: pd.DataFrame, config: Config) -> EventArrays:
        ids = pd.Index(partners["partner_id"].astype(str).to_numpy())
        code = partner_positions(events["partner_id"], ids)
        known = code >= 0
        return cls(
            ids=ids,
            signup=pd.DatetimeIndex(pd.to_datetime(partners["signup_at"], utc=True)),
            code=code,
            ts=pd.DatetimeIndex(pd.to_datetime(events["ts"], utc=True)),
            qualifying=known & events["event_type"].isin(list(config.labels.qualifying_event_types)).to_numpy(),
            sale=known & (events["event_type"] == SALE).to_numpy(),  # compares categorical codes: no 25M-string copy
            amount=events["amount"].to_numpy(dtype=float),
        )
