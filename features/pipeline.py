"""Point-in-time features, segments and labels for many cutoffs in one pass.

Events are aggregated once to partner-day rows (days aligned to the cutoffs' time of day), with
cumulative sums per column; every window feature at every cutoff is then a difference of two
cumulative sums found by binary search. Rows are kept only for the days the windows read (`lookback_days`
before the earliest cutoff); a partner's earlier history folds into one row, so one cutoff costs its
windows, not the whole program. Nothing here reads files: the functions take frames that hold
whole partners (the batch program, one partition of it, or one partner with its recent events) and
return frames, so the same code serves batch scoring, the service and partitions of a distributed frame.
Definitions of every feature are in `features/schema.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.schema import ACTIVE_DAY_WINDOWS, FIRST_EVENT_TYPES, PAYOUT_PAID, PAYOUT_REQUESTED, RECENCY_TYPES, SALE, feature_schema
from features.segments import LADDER_RANK, assign_segments, star_revenue_threshold
from partner_churn.config import Config
from partner_churn.domain import (
    ACTIVE_DAYS_30,
    LAST_ACTIVITY,
    active_days_feature,
    active_mask,
    count_feature,
    funnel_feature,
    onboarding_feature,
    payout_amount_feature,
    revenue_feature,
    revenue_share_feature,
    slope_feature,
    trend_feature,
    utc,
)
from partner_churn.errors import InputError

DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class ProgramContext:
    """Program-wide figures per cutoff that a partner's features and segment are measured against.

    The batch computes them from the whole program; the service passes the batch's when it scores one
    partner, so one partner alone gets the same revenue shares and segments as in the batch.
    """

    cutoffs: pd.DatetimeIndex
    window_revenue: dict[int, np.ndarray]
    """Program revenue per look-back window (days) at each cutoff."""
    star_threshold: np.ndarray
    """Segment-window revenue at which a partner counts as top of the program, at each cutoff."""

    def index_of(self, cutoff: pd.Timestamp) -> int:
        """Position of `cutoff` in the context; an error if the context was not computed for it.

        A search of the sorted values, not a pandas index lookup: a context is shared by the tasks of a
        threaded Dask worker, and the lazily built hash engine of a shared index is not thread-safe (two
        first lookups at once can find it "not unique")."""
        stamp = utc(cutoff)
        position = int(self.cutoffs.searchsorted(stamp))
        if position == len(self.cutoffs) or self.cutoffs[position] != stamp:
            raise InputError(f"program context has no figures for cutoff {cutoff}")
        return position

    def snapshot(self, cutoff: pd.Timestamp) -> dict[str, Any]:
        """The figures at one cutoff as plain JSON values, to ship with a model."""
        i = self.index_of(cutoff)
        return {
            "as_of": cutoff.isoformat(),
            "window_revenue": {str(w): float(v[i]) for w, v in self.window_revenue.items()},
            "star_threshold": float(self.star_threshold[i]),
        }

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any], cutoffs: Sequence[pd.Timestamp]) -> ProgramContext:
        """A snapshot's figures standing for the program at each of `cutoffs` (the service's stand-in
        for the whole program it does not hold: program figures move slowly, and the snapshot's date
        is reported with every answer)."""
        stamps = check_cutoffs(cutoffs)
        n = len(stamps)
        return cls(
            cutoffs=stamps,
            window_revenue={int(w): np.full(n, float(v)) for w, v in snapshot["window_revenue"].items()},
            star_threshold=np.full(n, float(snapshot["star_threshold"])),
        )


@dataclass(frozen=True)
class ContextPart:
    """What one frame of whole partners (the program, or one partition of it) adds to the program context:
    per look-back window, at each cutoff, the window revenues of its partners who had any."""

    cutoffs: pd.DatetimeIndex
    earnings: dict[int, list[np.ndarray]]


def context_part(partners: pd.DataFrame, events: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], config: Config) -> ContextPart:
    """The program-context part of these partners (a first pass over partitions, combined by `combine_context`)."""
    return _DayTable(partners, events, check_cutoffs(cutoffs), config).context_part(_context_windows(config))


def combine_context(parts: Sequence[ContextPart], config: Config) -> ProgramContext:
    """The program context from the parts of all its partners, in any order and split: program revenue is the
    exactly rounded sum (`math.fsum`) of the partners' window revenues, the star threshold a quantile of them,
    so the whole program and any partitioning of it give the same figures to the last bit."""
    if not parts:
        raise InputError("no partition to compute the program's figures from")
    cutoffs = parts[0].cutoffs
    revenue = {}
    for w in _context_windows(config):
        revenue[w] = np.array([math.fsum(np.concatenate([part.earnings[w][i] for part in parts]).tolist()) for i in range(len(cutoffs))])
    w = config.segments.revenue_window_days
    thresholds = np.array(
        [star_revenue_threshold(np.concatenate([part.earnings[w][i] for part in parts]), config.segments) for i in range(len(cutoffs))]
    )
    return ProgramContext(cutoffs=cutoffs, window_revenue=revenue, star_threshold=thresholds)


def program_context(partners: pd.DataFrame, events: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], config: Config) -> ProgramContext:
    """Program revenue per window and the star revenue threshold at each cutoff, from the whole program."""
    return combine_context([context_part(partners, events, cutoffs, config)], config)


def build_features(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    *,
    program: ProgramContext | None = None,
    progress: Callable[[int], None] | None = None,
    surveys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features, segment and downgrade warning per (cutoff, partner signed up before it).

    Columns: partner_id, as_of, every feature of `feature_schema(config)` in order, segment,
    downgrade_warning; rows sorted by as_of, then partners' order. `progress`, when given, is called
    with 1 after each cutoff. `surveys` (the contract's optional table: partner_id, ts, score) informs the
    survey features; without it they are missing.
    """
    stamps = check_cutoffs(cutoffs)
    table = _DayTable(partners, events, stamps, config, surveys)
    context = program or table.context(_context_windows(config))
    frames = []
    for i in range(len(stamps)):
        frames.append(table.features_at(i, context))
        if progress is not None:
            progress(1)
    names = [spec.name for spec in feature_schema(config)]
    columns = ["partner_id", "as_of", *names, "segment", "downgrade_warning"]
    if not frames:
        return _empty(columns, config)
    return pd.concat(frames, ignore_index=True)[columns]


def build_labels(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    *,
    data_end: pd.Timestamp,
    features: pd.DataFrame | None = None,
    program: ProgramContext | None = None,
) -> pd.DataFrame:
    """Deactivation and upgrade labels per (cutoff, partner); missing where the horizon is not observed.

    deactivated: for partners active at t, 1 if no qualifying event in [t, t + H). upgraded: 1 if the
    segment at t + H is higher on the ladder than at t. revenue_next_horizon: sale amounts in
    [t, t + H). All three are NaN when t + H is after `data_end`. `features`, when given, is
    `build_features` of the same frames and cutoffs (its segments are reused instead of recomputed).
    `program`: the whole program's context at the cutoffs and at each observed t + H, when the frames are one
    partition of it (`label_cutoffs` names them); else the frames are the program and give their own.
    """
    stamps = check_cutoffs(cutoffs)
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    later_stamps = _observed_horizon_ends(stamps, config, data_end)
    # One partner-day table serves the cutoffs and their horizons: labels, and segments at both ends.
    table = _DayTable(partners, events, check_cutoffs([*stamps, *later_stamps]), config, forward_days=config.labels.horizon_days)
    position = {cutoff: i for i, cutoff in enumerate(table.cutoffs)}
    context = program or (table.context(_context_windows(config)) if features is None or later_stamps else None)
    columns = ["partner_id", "as_of", "active", "deactivated", "upgraded", "segment", "segment_at_horizon", "revenue_next_horizon"]
    if features is None:
        assert context is not None, "the context is built whenever features are not given"
        features = pd.concat([table.features_at(position[c], context) for c in stamps], ignore_index=True) if stamps.size else None
    expected_ids = np.concatenate([table.partner_ids[table.partners_at(position[c])] for c in stamps]) if stamps.size else np.zeros(0, object)
    if features is not None and (len(features) != expected_ids.size or not (features["partner_id"].to_numpy() == expected_ids).all()):
        raise InputError("build_labels: the features given do not belong to these partners and cutoffs")
    frames = []
    offset = 0
    for cutoff in stamps:
        i = position[cutoff]
        codes = table.partners_at(i)
        active = active_mask(features.iloc[offset : offset + codes.size], config) if features is not None else np.zeros(0, bool)
        offset += codes.size
        observed = cutoff + horizon <= data_end
        future = table.window_sum(i, table.qualifying_column, start=0, length=-config.labels.horizon_days)
        revenue = table.window_sum(i, f"amount:{SALE}", start=0, length=-config.labels.horizon_days)
        frames.append(
            pd.DataFrame(
                {
                    "partner_id": table.partner_ids[codes],
                    "as_of": pd.Series(np.full(codes.size, cutoff.value, dtype="datetime64[ns]")).dt.tz_localize("UTC"),
                    "active": active,
                    "deactivated": np.where(active & observed, (future == 0).astype(float), np.nan),
                    "revenue_next_horizon": revenue if observed else np.full(codes.size, np.nan),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=columns)
    labels = pd.concat(frames, ignore_index=True)
    assert features is not None, "there are frames only when there are cutoffs, whose features were given or built"
    labels["segment"] = features["segment"].to_numpy()
    if later_stamps:
        assert context is not None, "the context is built whenever there are later cutoffs"
        later = pd.concat([table.features_at(position[c], context) for c in later_stamps], ignore_index=True)
        later = later.assign(as_of=later["as_of"] - horizon)[["partner_id", "as_of", "segment"]]
        labels = labels.merge(later.rename(columns={"segment": "segment_at_horizon"}), on=["partner_id", "as_of"], how="left")
    else:
        labels["segment_at_horizon"] = None
    rank_now = labels["segment"].map(LADDER_RANK)
    rank_later = labels["segment_at_horizon"].map(LADDER_RANK)
    labels["upgraded"] = np.where(rank_later.notna(), (rank_later > rank_now).astype(float), np.nan)
    return labels[columns]


def label_cutoffs(cutoffs: Sequence[pd.Timestamp], config: Config, *, data_end: pd.Timestamp) -> pd.DatetimeIndex:
    """The moments labels at `cutoffs` measure segments at: each cutoff and, where observed by `data_end`, the end
    of its horizon; the cutoffs a partition's `build_labels` needs the whole program's context at."""
    stamps = check_cutoffs(cutoffs)
    return check_cutoffs([*stamps, *_observed_horizon_ends(stamps, config, data_end)])


def _observed_horizon_ends(stamps: pd.DatetimeIndex, config: Config, data_end: pd.Timestamp) -> list[pd.Timestamp]:
    horizon = pd.Timedelta(days=config.labels.horizon_days)
    return [c + horizon for c in stamps if c + horizon <= data_end]


def build_features_for(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    wanted: pd.DataFrame,
    config: Config,
    *,
    horizon_days: int,
    surveys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features at sparse (partner, cutoff) pairs, with what followed each over `horizon_days` days.

    `wanted` holds `partner_id` and `as_of` (cutoffs sharing one time of day). One row per distinct pair, sorted
    by as_of, then partners' order: partner_id, as_of, `signed_up` (the partner signed up before as_of),
    build_features's columns (missing where not signed up: no event of the partner lies before as_of), and
    `qualifying_next_horizon` / `revenue_next_horizon`: qualifying events and sale amounts in
    [as_of, as_of + horizon_days), for every pair, observed or not (the caller knows where its data ends).
    Program-wide figures (revenue shares, the star threshold) come from the whole program at each cutoff,
    so a pair's features and segment equal its row of `build_features`; only the named partners are computed,
    which is what makes hundreds of cutoffs with a few partners each cheap.
    """
    unknown = ~wanted["partner_id"].astype(str).isin(partners["partner_id"].astype(str))
    if unknown.any():
        raise InputError(
            f"build_features_for: partners not in the partner frame, e.g. {wanted['partner_id'][unknown].astype(str).unique()[:5].tolist()}"
        )
    moments = pd.to_datetime(wanted["as_of"], utc=True)
    stamps = check_cutoffs(list(moments.unique()))
    table = _DayTable(partners, events, stamps, config, surveys, forward_days=horizon_days)
    context = table.context(_context_windows(config))
    codes = pd.Index(table.partner_ids).get_indexer(wanted["partner_id"].astype(str)).astype(np.int64)
    at = stamps.get_indexer(pd.DatetimeIndex(moments)).astype(np.int64)
    n = max(len(table.partners), 1)
    pairs = np.unique(at * n + codes)  # by cutoff, then partners' order
    names = [spec.name for spec in feature_schema(config)]
    columns = ["partner_id", "as_of", "signed_up", *names, "segment", "downgrade_warning", "qualifying_next_horizon", "revenue_next_horizon"]
    outcomes: dict[str, list[np.ndarray]] = {"code": [], "cutoff": [], "qualifying_next_horizon": [], "revenue_next_horizon": []}
    frames = []
    for i in np.unique(pairs // n).tolist():
        chosen = pairs[pairs // n == i] % n
        table.select(i, chosen)
        outcomes["code"].append(chosen)
        outcomes["cutoff"].append(np.full(chosen.size, stamps.asi8[i]))
        outcomes["qualifying_next_horizon"].append(table.window_sum(i, table.qualifying_column, start=0, length=-horizon_days))
        outcomes["revenue_next_horizon"].append(table.window_sum(i, f"amount:{SALE}", start=0, length=-horizon_days))
        table.select(i, chosen[table.signup_ns[chosen] < stamps.asi8[i]])
        frames.append(table.features_at(i, context))
    if not frames:
        return _empty(columns, config).astype({"signed_up": bool})
    code, cutoff = np.concatenate(outcomes["code"]), np.concatenate(outcomes["cutoff"])
    found = pd.DataFrame(
        {
            "partner_id": table.partner_ids[code],
            "as_of": pd.Series(cutoff.astype("datetime64[ns]")).dt.tz_localize("UTC"),
            "signed_up": table.signup_ns[code] < cutoff,
            "qualifying_next_horizon": np.concatenate(outcomes["qualifying_next_horizon"]),
            "revenue_next_horizon": np.concatenate(outcomes["revenue_next_horizon"]),
        }
    )
    return found.merge(pd.concat(frames, ignore_index=True), on=["partner_id", "as_of"], how="left", sort=False)[columns]


def check_cutoffs(cutoffs: Sequence[pd.Timestamp]) -> pd.DatetimeIndex:
    """Cutoffs as a sorted, de-duplicated UTC index; an error unless they share one time of day."""
    stamps = pd.DatetimeIndex([utc(c) for c in cutoffs]).unique().sort_values()
    if len(stamps):
        offsets = (stamps.asi8 - stamps.asi8[0]) % DAY_NS
        if offsets.any():
            odd = [str(s) for s in stamps[offsets != 0][:5]]
            raise InputError(f"cutoffs must share one time of day (days are counted back from them); these differ from {stamps[0]}: {odd}")
    return stamps


def _context_windows(config: Config) -> list[int]:
    return sorted(set(config.features.revenue_share_windows_days) | {config.segments.revenue_window_days})


def _empty(columns: list[str], config: Config) -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype=float) for name in columns})
    frame["partner_id"] = frame["partner_id"].astype(object)
    frame["as_of"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["segment"] = frame["segment"].astype(object)
    frame["downgrade_warning"] = frame["downgrade_warning"].astype(bool)
    return frame


class _DayTable:
    """Partner-day aggregates of one frame of whole partners, with cumulative sums for window queries."""

    def __init__(
        self,
        partners: pd.DataFrame,
        events: pd.DataFrame,
        cutoffs: pd.DatetimeIndex,
        config: Config,
        surveys: pd.DataFrame | None = None,
        *,
        forward_days: int = 0,
    ) -> None:
        """`forward_days`: how far after the latest cutoff windows read (labels read their horizon)."""
        self.config = config
        self.cutoffs = cutoffs
        self.partners = partners.reset_index(drop=True)
        self.partner_ids = self.partners["partner_id"].astype(str).to_numpy(dtype=object)
        self.signup_ns = self.partners["signup_at"].array.asi8 if len(self.partners) else np.zeros(0, np.int64)
        self.origin = int(cutoffs.asi8[0]) if len(cutoffs) else 0
        self.cutoff_days = ((cutoffs.asi8 - self.origin) // DAY_NS).astype(np.int64)
        vocabulary = list(config.data.event_types)
        self.types = vocabulary

        code = _partner_codes(events, self.partners)
        ts = events["ts"].array.asi8 if len(events) else np.zeros(0, np.int64)
        type_code = _type_codes(events, vocabulary)
        amount = events["amount"].to_numpy(dtype=float) if len(events) else np.zeros(0)
        order = _sort_order(code, ts)
        if order is not None:
            code, ts, type_code, amount = code[order], ts[order], type_code[order], amount[order]
        # Partner-day rows only for the days queries read: every look-back window of the earliest cutoff, and
        # `forward_days` after the latest. Earlier events fold into one row per partner on the day before (its
        # history sums and last events; its active days and their gaps are kept aside, `_active_days`), later
        # ones into one row no query reads. So one cutoff's table is about its windows' size, not the program's.
        self.first_day = int(self.cutoff_days.min(initial=0)) - lookback_days(config)
        self.end_day = int(self.cutoff_days.max(initial=0)) + forward_days
        self.dmin = self.first_day - 2
        self.span = self.end_day - self.dmin + 1
        qualifying = np.isin(np.arange(len(vocabulary)), [vocabulary.index(t) for t in config.labels.qualifying_event_types])
        is_qualifying = qualifying[type_code] if type_code.size else np.zeros(0, bool)
        fold, beyond = self.first_day - 1 - self.dmin, self.end_day - self.dmin  # no query reads the `beyond` row
        # Each event's day as an offset from dmin, worked in place: tens of millions of rows make every
        # temporary array cost more in fresh memory than in arithmetic.
        offset = ts - (self.origin + self.dmin * DAY_NS)
        np.floor_divide(offset, DAY_NS, out=offset)
        past = is_qualifying & (offset <= fold)
        past_days = _active_days(code[past], offset[past] + self.dmin, len(self.partners))
        del past
        np.clip(offset, fold, beyond, out=offset)
        rows = _day_rows(code, offset, ts, type_code, amount, self.span, vocabulary)
        del offset
        self.keys, counts = rows.keys, rows.counts
        n_rows = self.keys.size
        row_day = self.keys % self.span
        qualifying_count = counts[:, qualifying].sum(axis=1)
        columns = {f"count:{name}": counts[:, j] for j, name in enumerate(vocabulary)}
        for name in ("click", "lead", SALE, PAYOUT_REQUESTED, PAYOUT_PAID):  # features read them; a vocabulary may lack them
            columns.setdefault(f"count:{name}", np.zeros(n_rows, np.int64))
        columns["qualifying"] = qualifying_count
        # Active days per row: the folded row counts the partner's active days before the first day.
        columns["active"] = np.where(row_day == fold, past_days.days[self.keys // self.span], qualifying_count > 0).astype(np.int64)
        for name in MONEY_TYPES:
            columns[f"amount:{name}"] = rows.amounts[name]
        self.qualifying_column = "qualifying"
        # Counts: exact integer prefix sums over all rows. Money: running sums that restart with every
        # partner, so a partner's sums carry no rounding from the rest of the program (a lone sale of
        # 1.59 sums to exactly 1.59, equal requested and paid payouts leave exactly 0 pending).
        row_partner = self.keys // self.span
        self.cumulative = {name: np.concatenate([[0], np.cumsum(v)]) for name, v in columns.items() if v.dtype.kind in "iub"}
        self.running = {name: _running_sum(v, row_partner) for name, v in columns.items() if v.dtype.kind == "f"}
        self._bounds: dict[tuple[int, int], np.ndarray] = {}
        self._partners: dict[int, np.ndarray] = {}

        # Exact last / first event times per type (and for any qualifying event), per partner-day row.
        self.last_event: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for suffix, t in RECENCY_TYPES.items():
            if t is None:
                has, stamp = qualifying_count > 0, rows.latest[:, qualifying].max(axis=1, initial=_NO_TIME)
            elif t in vocabulary:
                has, stamp = counts[:, vocabulary.index(t)] > 0, rows.latest[:, vocabulary.index(t)]
            else:
                continue
            self.last_event[suffix] = (self.keys[has], stamp[has])
        self.first_event: dict[str, np.ndarray] = {}
        n_partners = len(self.partners)
        for suffix, event_type in FIRST_EVENT_TYPES.items():
            first = np.full(n_partners, np.iinfo(np.int64).max)
            if event_type in vocabulary:
                mask = type_code == vocabulary.index(event_type)
                c, s = code[mask], ts[mask]
                head = np.r_[True, c[1:] != c[:-1]] if c.size else np.zeros(0, bool)
                first[c[head]] = s[head]
            self.first_event[suffix] = first

        # Gaps between consecutive active days: the folded days' own, and prefix sums over the later active rows.
        self.past_days = past_days
        active_rows = (qualifying_count > 0) & (row_day > fold) & (row_day < beyond)
        self.active_keys = self.keys[active_rows]
        active_partner = self.active_keys // self.span
        active_day = self.active_keys % self.span
        same = np.r_[False, active_partner[1:] == active_partner[:-1]] if active_partner.size else np.zeros(0, bool)
        gap = np.where(same, np.diff(active_day, prepend=0), 0).astype(np.int64)
        self.gap_sum = np.concatenate([[0], np.cumsum(gap)])
        self.gap_square_sum = np.concatenate([[0], np.cumsum(gap * gap)])

        # Qualifying events in the onboarding period, for the onboarding feature.
        onboarding_end = self.signup_ns[code]
        onboarding_end += config.features.onboarding_hours * 3_600 * 10**9
        early = is_qualifying & (ts < onboarding_end)
        del onboarding_end
        self.onboarding_code, self.onboarding_ts = code[early], ts[early]

        self.surveys = _SurveyAnswers(surveys, self.partner_ids)

    # -- queries -------------------------------------------------------------------------------------
    def select(self, i: int, codes: np.ndarray) -> None:
        """From now on, the partners at cutoff i are `codes` (sorted; signed up or not), for `build_features_for`
        once the context was computed from every partner. Cached row bounds are dropped (they belong to the
        previous selection)."""
        self._partners[i] = np.asarray(codes, dtype=np.int64)
        self._bounds.clear()

    def partners_at(self, i: int) -> np.ndarray:
        """Codes of partners signed up before cutoff i, in partners' order."""
        if i not in self._partners:
            self._partners[i] = np.flatnonzero(self.signup_ns < self.cutoffs.asi8[i])
        return self._partners[i]

    def _bound(self, i: int, day: int | None) -> np.ndarray:
        """Per partner at cutoff i: index of its first partner-day row on or after `day` (None: its first row)."""
        offset = 0 if day is None else int(np.clip(day - self.dmin, 0, self.span))
        if (i, offset) not in self._bounds:
            self._bounds[(i, offset)] = np.searchsorted(self.keys, self.partners_at(i) * self.span + offset)
        return self._bounds[(i, offset)]

    def _prefix(self, i: int, column: str, day: int | None) -> np.ndarray:
        """Per partner at cutoff i: the sum of `column` over its rows before `day`."""
        position = self._bound(i, day)
        if column in self.cumulative:
            cumulative = self.cumulative[column]
            return cumulative[position] - cumulative[self._bound(i, None)]
        running = self.running[column]
        inside = position > self._bound(i, None)
        return np.where(inside, running[np.maximum(position - 1, 0)] if running.size else 0.0, 0.0)

    def window_sum(self, i: int, column: str, *, start: int, length: int) -> np.ndarray:
        """Sum of `column` over day periods start..start+length-1 before cutoff i, per partner at cutoff i.

        With length < 0 it sums the |length| day periods from the cutoff forward, [t, t + |length| days).
        """
        cutoff_day = int(self.cutoff_days[i])
        if length >= 0:
            lo, hi = cutoff_day - start - length, cutoff_day - start
        else:
            lo, hi = cutoff_day + start, cutoff_day + start - length
        if lo < self.first_day or hi > self.end_day:
            raise RuntimeError(
                f"a window of days {lo}..{hi} reads outside the day table's {self.first_day}..{self.end_day}: lookback_days or forward_days misses it"
            )
        return self._prefix(i, column, hi) - self._prefix(i, column, lo)

    def history_sum(self, i: int, column: str) -> np.ndarray:
        """Sum of `column` over all days before cutoff i, per partner at cutoff i."""
        return self._prefix(i, column, int(self.cutoff_days[i]))

    def days_since_last(self, codes: np.ndarray, i: int, suffix: str) -> np.ndarray:
        """Days from the last event of that kind before cutoff i to the cutoff; NaN if none."""
        keys, stamps = self.last_event.get(suffix, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        target = codes * self.span + (self.cutoff_days[i] - self.dmin)
        position = np.searchsorted(keys, target) - 1
        valid = position >= 0
        valid[valid] = keys[position[valid]] // self.span == codes[valid]
        result = np.full(codes.size, np.nan)
        result[valid] = (self.cutoffs.asi8[i] - stamps[position[valid]]) / DAY_NS
        return result

    def gap_stats(self, codes: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population std of gaps between consecutive active days before cutoff i: the folded days'
        gaps, the one from the last folded day to the first later one, and those between later active days."""
        first = np.searchsorted(self.active_keys, codes * self.span)
        end = np.searchsorted(self.active_keys, codes * self.span + (self.cutoff_days[i] - self.dmin))
        later = end - first
        inner = np.where(later > 1, self.gap_sum[end] - self.gap_sum[np.minimum(first + 1, end)], 0)
        inner_squares = np.where(later > 1, self.gap_square_sum[end] - self.gap_square_sum[np.minimum(first + 1, end)], 0)
        past = self.past_days
        first_later_day = np.zeros(codes.size, np.int64)
        has_later = later > 0
        first_later_day[has_later] = self.active_keys[first[has_later]] % self.span + self.dmin
        bridge = np.where(has_later & (past.days[codes] > 0), first_later_day - past.last[codes], 0)
        total = past.gap_sum[codes] + bridge + inner
        squares = past.gap_square_sum[codes] + bridge * bridge + inner_squares
        n_gaps = np.maximum(past.days[codes] + later - 1, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n_gaps >= 1, total / n_gaps, np.nan)
            variance_numerator = n_gaps * squares - total * total  # exact in integers
            std = np.where(n_gaps >= 2, np.sqrt(np.maximum(variance_numerator, 0).astype(float)) / n_gaps, np.nan)
        return mean, std

    def context(self, windows: list[int]) -> ProgramContext:
        """Program revenue per window and star threshold at every cutoff, from this (whole) program."""
        return combine_context([self.context_part(windows)], self.config)

    def context_part(self, windows: list[int]) -> ContextPart:
        """Per window, at each cutoff, the window revenues of this frame's partners who had any."""
        earnings: dict[int, list[np.ndarray]] = {}
        for w in windows:
            sums = [self.window_sum(i, f"amount:{SALE}", start=0, length=w) for i in range(len(self.cutoffs))]
            earnings[w] = [values[values > 0] for values in sums]
        return ContextPart(cutoffs=self.cutoffs, earnings=earnings)

    # -- the feature frame for one cutoff ---------------------------------------------------------------
    def features_at(self, i: int, context: ProgramContext) -> pd.DataFrame:
        config, f = self.config, self.config.features
        codes = self.partners_at(i)
        cutoff = self.cutoffs[i]
        t_ns = self.cutoffs.asi8[i]

        def window(column: str, length: int, start: int = 0) -> np.ndarray:
            return self.window_sum(i, column, start=start, length=length)

        out: dict[str, np.ndarray | pd.Series] = {"partner_id": self.partner_ids[codes]}
        signup = self.signup_ns[codes]
        out["tenure_days"] = (t_ns - signup) / DAY_NS
        early = self.onboarding_ts < t_ns
        out[onboarding_feature(config)] = np.bincount(self.onboarding_code[early], minlength=len(self.partners))[codes]
        for suffix in FIRST_EVENT_TYPES:
            first = self.first_event[suffix][codes]
            out[f"days_to_first_{suffix}"] = np.where(first < t_ns, (first - signup) / DAY_NS, np.nan)
        for suffix in RECENCY_TYPES:
            out[f"days_since_last_{suffix}"] = self.days_since_last(codes, i, suffix)
        for event_type in self.types:
            for w in f.windows_days:
                out[count_feature(event_type, w)] = window(f"count:{event_type}", w)
        for w in f.windows_days:
            out[revenue_feature(w)] = window(f"amount:{SALE}", w)
            out[payout_amount_feature(w)] = window(f"amount:{PAYOUT_PAID}", w)
        for w in ACTIVE_DAY_WINDOWS:
            out[active_days_feature(w)] = window("active", w)
        trend = f.trend_window_days
        for what, column in (("activity", "qualifying"), ("click", "count:click"), ("revenue", f"amount:{SALE}")):
            recent, before = window(column, trend), window(column, trend, start=trend)
            total = recent + before
            out[trend_feature(what, config)] = np.divide(recent - before, total, out=np.zeros(codes.size), where=total != 0)
        weeks = np.stack([window("active", 7, start=7 * k) for k in range(f.slope_weeks)]) if codes.size else np.zeros((f.slope_weeks, 0))
        x = -np.arange(f.slope_weeks, dtype=float)
        out[slope_feature(config)] = ((x - x.mean()) @ weeks) / ((x - x.mean()) ** 2).sum()
        gap_mean, gap_std = self.gap_stats(codes, i)
        out["active_day_gap_mean"], out["active_day_gap_std"] = gap_mean, gap_std
        with np.errstate(invalid="ignore", divide="ignore"):
            out["recency_to_usual_gap"] = out[LAST_ACTIVITY] / gap_mean
            clicks, leads, sales = (window(f"count:{t}", f.funnel_window_days) for t in ("click", "lead", "sale"))
            out[funnel_feature("lead_per_click", config)] = np.where(clicks > 0, leads / np.where(clicks > 0, clicks, 1), np.nan)
            out[funnel_feature("sale_per_lead", config)] = np.where(leads > 0, sales / np.where(leads > 0, leads, 1), np.nan)
        requested = self.history_sum(i, f"amount:{PAYOUT_REQUESTED}")
        paid = self.history_sum(i, f"amount:{PAYOUT_PAID}")
        out["pending_payout_amount"] = np.maximum(requested - paid, 0.0)
        out["pending_payout_requests"] = np.maximum(self.history_sum(i, f"count:{PAYOUT_REQUESTED}") - self.history_sum(i, f"count:{PAYOUT_PAID}"), 0)
        rate = self._attribute("commission_rate", codes, float)
        out["unpaid_commission"] = np.maximum(rate * self.history_sum(i, f"amount:{SALE}") - paid, 0.0)
        position = context.index_of(cutoff)
        for w in f.revenue_share_windows_days:
            program_revenue = context.window_revenue[w][position]
            partner_revenue = out[revenue_feature(w)] if w in f.windows_days else window(f"amount:{SALE}", w)
            out[revenue_share_feature(w)] = partner_revenue / program_revenue if program_revenue > 0 else np.zeros(codes.size)
        out.update(self.surveys.at(t_ns, codes))
        for name, column_type in config.data.partner_attributes.items():
            out[name] = self._attribute(name, codes, float if column_type in ("float", "integer") else object)

        segments, warning = self._segments(codes, i, out, context, position)
        frame = pd.DataFrame(out)
        frame.insert(1, "as_of", pd.Series(np.full(codes.size, cutoff.value, dtype="datetime64[ns]")).dt.tz_localize("UTC"))
        frame["segment"] = segments
        frame["downgrade_warning"] = warning
        return frame

    def _attribute(self, name: str, codes: np.ndarray, kind: type) -> np.ndarray:
        if name not in self.partners.columns:
            return np.full(codes.size, np.nan) if kind is float else np.full(codes.size, None, dtype=object)
        values = self.partners[name].to_numpy()[codes]
        return values.astype(float) if kind is float else values.astype(object)

    def _segments(self, codes: np.ndarray, i: int, out: dict, context: ProgramContext, position: int) -> tuple[np.ndarray, np.ndarray]:
        """Segment at the cutoff and whether the recent trend moves the partner down within D days."""
        rules = self.config.segments
        w, d = rules.revenue_window_days, rules.downgrade_warning_days
        sale = f"amount:{SALE}"
        window_revenue = self.window_sum(i, sale, start=0, length=w)
        silent = np.nan_to_num(out[LAST_ACTIVITY], nan=np.inf)
        program_revenue = float(context.window_revenue[w][position])
        threshold = float(context.star_threshold[position])
        now = assign_segments(
            out["tenure_days"],
            out[ACTIVE_DAYS_30],
            silent,
            window_revenue,
            rules,
            program_window_revenue=program_revenue,
            star_threshold=threshold,
        )
        month = _SEGMENT_ACTIVE_DAYS
        active_before = self.window_sum(i, "active", start=month, length=month)
        projected_active = np.clip(2 * out[ACTIVE_DAYS_30] - active_before, 0, month)
        recent = self.window_sum(i, sale, start=0, length=d)
        before = self.window_sum(i, sale, start=d, length=d)
        leaving = self.window_sum(i, sale, start=w - d, length=d)
        projected_revenue = np.maximum(window_revenue - leaving + np.maximum(2 * recent - before, 0), 0)
        projected_silent = np.where(projected_active == 0, silent + d, 0.0)
        later = assign_segments(
            out["tenure_days"] + d,
            projected_active,
            projected_silent,
            projected_revenue,
            rules,
            program_window_revenue=program_revenue,
            star_threshold=threshold,
        )
        rank = np.vectorize(LADDER_RANK.get, otypes=[int])
        warning = rank(later) < rank(now) if codes.size else np.zeros(0, bool)
        return now, warning


class _SurveyAnswers:
    """The partners' survey answers in time order (per partner), for the survey features at a cutoff."""

    def __init__(self, surveys: pd.DataFrame | None, partner_ids: np.ndarray) -> None:
        if surveys is None or not len(surveys):
            self.code, self.ts, self.score = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
            return
        code = pd.Index(partner_ids).get_indexer(surveys["partner_id"].astype(str)).astype(np.int64)
        ts = pd.DatetimeIndex(pd.to_datetime(surveys["ts"], utc=True)).as_unit("ns").asi8
        score = surveys["score"].to_numpy(dtype=float)
        mine = code >= 0  # a frame of some partners (a partition, the service's one partner) reads their answers only
        order = np.lexsort((ts[mine], code[mine]))  # by partner, then time; stable for answers at one time
        self.code, self.ts, self.score = code[mine][order], ts[mine][order], score[mine][order]

    def at(self, t_ns: int, codes: np.ndarray) -> dict[str, np.ndarray]:
        """survey_score_last, survey_score_change and days_since_last_survey of partners `codes` at t."""
        before = self.ts < t_ns
        code, ts, score = self.code[before], self.ts[before], self.score[before]
        last = np.flatnonzero(np.r_[code[1:] != code[:-1], True]) if code.size else np.zeros(0, np.int64)
        previous = last - 1
        has_previous = previous >= 0
        has_previous[has_previous] = code[previous[has_previous]] == code[last[has_previous]]
        n = int(codes.max(initial=-1)) + 1
        latest, change, days = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        inside = code[last] < n
        latest[code[last][inside]] = score[last][inside]
        days[code[last][inside]] = (t_ns - ts[last][inside]) / DAY_NS
        both = has_previous & inside
        change[code[last][both]] = score[last][both] - score[previous[both]]
        return {"survey_score_last": latest[codes], "survey_score_change": change[codes], "days_since_last_survey": days[codes]}


_NO_TIME = np.iinfo(np.int64).min
"""Latest-time placeholder of a (row, type) without events."""
MONEY_TYPES = (SALE, PAYOUT_PAID, PAYOUT_REQUESTED)
"""Event types whose amounts the features sum."""
_SEGMENT_ACTIVE_DAYS = 30
"""The window of ACTIVE_DAYS_30, which the segment rules and the downgrade warning read."""


def lookback_days(config: Config) -> int:
    """The most days before a cutoff that any feature or segment window of `config` reads."""
    f, s = config.features, config.segments
    return max(
        *f.windows_days,
        *ACTIVE_DAY_WINDOWS,
        2 * f.trend_window_days,
        7 * f.slope_weeks,
        f.funnel_window_days,
        *f.revenue_share_windows_days,
        s.revenue_window_days,
        2 * s.downgrade_warning_days,
        2 * _SEGMENT_ACTIVE_DAYS,  # the downgrade warning compares the last 30 active days with the 30 before
    )


@dataclass(frozen=True)
class _DayRows:
    """Per partner-day row (sorted by key = partner code * span + day offset): event counts and latest time
    per type, and the money types' amounts."""

    keys: np.ndarray
    counts: np.ndarray
    latest: np.ndarray
    amounts: dict[str, np.ndarray]


def _day_rows(
    code: np.ndarray, offset: np.ndarray, ts: np.ndarray, type_code: np.ndarray, amount: np.ndarray, span: int, vocabulary: list[str]
) -> _DayRows:
    """Rows of events sorted by partner, then time, each at its day `offset`."""
    key = code * span
    key += offset
    change = key[1:] != key[:-1]
    keys = key[np.flatnonzero(np.r_[True, change])] if key.size else np.zeros(0, np.int64)
    n_events = key.size
    del key
    row = np.zeros(n_events, np.int64)
    if n_events:
        np.cumsum(change, out=row[1:])
    del change
    n_rows, n_types = keys.size, len(vocabulary)
    row_type = row * n_types
    row_type += type_code
    counts = np.bincount(row_type, minlength=n_rows * n_types).reshape(n_rows, n_types)
    latest = np.full(n_rows * n_types, _NO_TIME)
    np.maximum.at(latest, row_type, ts)
    del row_type
    amounts: dict[str, np.ndarray] = {}
    for name in MONEY_TYPES:
        if name in vocabulary:
            is_type = type_code == vocabulary.index(name)
            amounts[name] = np.bincount(row[is_type], weights=amount[is_type], minlength=n_rows)
        else:
            amounts[name] = np.zeros(n_rows)
    return _DayRows(keys=keys, counts=counts, latest=latest.reshape(n_rows, n_types), amounts=amounts)


@dataclass(frozen=True)
class _ActiveDays:
    """Per partner: distinct active days, the last of them (days from the origin), and the sum and sum of
    squares of the gaps between consecutive ones."""

    days: np.ndarray
    last: np.ndarray
    gap_sum: np.ndarray
    gap_square_sum: np.ndarray


def _active_days(code: np.ndarray, day: np.ndarray, n_partners: int) -> _ActiveDays:
    """The active days of qualifying events sorted by partner, then time (`day`: days from the origin)."""
    distinct = np.r_[True, (code[1:] != code[:-1]) | (day[1:] != day[:-1])] if code.size else np.zeros(0, bool)
    c, d = code[distinct], day[distinct]
    same = c[1:] == c[:-1]
    gap = (d[1:] - d[:-1])[same]
    last = np.zeros(n_partners, np.int64)
    ends = np.flatnonzero(np.r_[~same, True]) if c.size else np.zeros(0, np.int64)
    last[c[ends]] = d[ends]
    return _ActiveDays(
        days=np.bincount(c, minlength=n_partners).astype(np.int64),
        last=last,
        gap_sum=np.bincount(c[1:][same], weights=gap, minlength=n_partners).astype(np.int64),
        gap_square_sum=np.bincount(c[1:][same], weights=gap * gap, minlength=n_partners).astype(np.int64),
    )


def _running_sum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Inclusive running sum within each group (rows sorted by group).

    Only non-zero values are accumulated, so two columns holding the same amounts in the same order
    (requested and paid payouts) reach exactly the same sums, whatever zeros lie between them.
    """
    if values.size == 0:
        return values.astype(float)
    nonzero = np.flatnonzero(values)
    if nonzero.size == 0:
        return np.zeros(values.size)
    running = pd.Series(values[nonzero]).groupby(group[nonzero]).cumsum().to_numpy()
    last = np.searchsorted(nonzero, np.arange(values.size), side="right") - 1  # last non-zero row at or before
    inside = last >= 0
    inside[inside] = group[nonzero[last[inside]]] == group[inside]
    return np.where(inside, running[np.maximum(last, 0)], 0.0)


def _partner_codes(events: pd.DataFrame, partners: pd.DataFrame) -> np.ndarray:
    """Position in `partners` of each event's partner; an error for events of unknown partners."""
    if not len(events):
        return np.zeros(0, np.int64)
    ids = events["partner_id"]
    if isinstance(ids.dtype, pd.CategoricalDtype) and ids.cat.categories.equals(pd.Index(partners["partner_id"].astype(str))):
        codes = ids.cat.codes.to_numpy().astype(np.int64)
    else:
        codes = pd.Index(partners["partner_id"].astype(str)).get_indexer(ids.astype(str)).astype(np.int64)
    if (codes < 0).any():
        unknown = ids[codes < 0].astype(str).unique()[:5].tolist()
        raise InputError(f"events: {int((codes < 0).sum())} events of partners not in the partner frame, e.g. {unknown}")
    return codes


def _type_codes(events: pd.DataFrame, vocabulary: list[str]) -> np.ndarray:
    """Each event's position in `vocabulary`, as small integers (a quarter of the memory of int64 codes)."""
    dtype = np.int16 if len(vocabulary) < 2**15 else np.int64
    if not len(events):
        return np.zeros(0, dtype)
    types = events["event_type"]
    if isinstance(types.dtype, pd.CategoricalDtype) and list(types.cat.categories) == vocabulary:
        codes = types.cat.codes.to_numpy().astype(dtype)
    else:
        codes = pd.Index(vocabulary).get_indexer(types.astype(str)).astype(dtype)
    if (codes < 0).any():
        unknown = types[codes < 0].astype(str).unique()[:5].tolist()
        raise InputError(f"events: event types not in data.event_types: {unknown}")
    return codes


def _sort_order(code: np.ndarray, ts: np.ndarray) -> np.ndarray | None:
    """Order that sorts events by partner then time, or None when they already are."""
    if code.size < 2:
        return None
    same = code[1:] == code[:-1]
    if (code[1:] >= code[:-1]).all() and (ts[1:][same] >= ts[:-1][same]).all():
        return None
    return np.lexsort((ts, code))
