"""A slow, obvious reference for the point-in-time features and labels of `features/pipeline.py`.

Loops over cutoffs, partners and events, each definition written as literally as the schema's and the
design's text puts it (`features/schema.py`, docs/definitions.md). Speed is irrelevant: it runs on
frames of a few thousand events at most, and the fast pipeline must agree with it exactly.

Day period k before t is [t - (k+1) d, t - k d); "the last w days" is [t - w d, t); days are 24 h.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import ACTIVE_DAY_WINDOWS, FIRST_EVENT_TYPES, RECENCY_TYPES, feature_names
from features.segments import LADDER_RANK, assign_segments, star_revenue_threshold
from partner_churn.config import Config

DAY = pd.Timedelta(days=1)
NAN = float("nan")


@dataclass(frozen=True)
class Event:
    """One event as plain Python values."""

    partner_id: str
    ts: pd.Timestamp
    event_type: str
    amount: float


def as_event_list(events: pd.DataFrame) -> list[Event]:
    """The events frame as a list of `Event`, in frame order."""
    return [
        Event(str(p), pd.Timestamp(ts), str(e), float(a))
        for p, ts, e, a in zip(events["partner_id"], events["ts"], events["event_type"], events["amount"])
    ]


def in_window(ts: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """ts in [start, end)."""
    return start <= ts < end


def last_days(ts: pd.Timestamp, t: pd.Timestamp, w: int) -> bool:
    """ts in the last w days before t: [t - w d, t)."""
    return in_window(ts, t - w * DAY, t)


def day_period(ts: pd.Timestamp, t: pd.Timestamp) -> int:
    """The k with ts in [t - (k+1) d, t - k d), for ts < t (found by checking the interval itself)."""
    assert ts < t
    guess = (t - ts) // DAY
    for k in (guess - 1, guess, guess + 1):
        if k >= 0 and in_window(ts, t - (k + 1) * DAY, t - k * DAY):
            return int(k)
    raise AssertionError(f"no day period for {ts} before {t}")


@dataclass(frozen=True)
class Partner:
    """One partner's row of the partners frame and all of its events (any time)."""

    partner_id: str
    signup_at: pd.Timestamp
    attributes: dict[str, object]
    events: list[Event]


def as_partner_list(partners: pd.DataFrame, events: pd.DataFrame, config: Config) -> list[Partner]:
    """Partners in frame order, each with its own events."""
    all_events = as_event_list(events)
    attribute_names = [name for name in config.data.partner_attributes if name in partners.columns]
    result = []
    for i in range(len(partners)):
        row = partners.iloc[i]
        pid = str(row["partner_id"])
        result.append(
            Partner(
                partner_id=pid,
                signup_at=pd.Timestamp(row["signup_at"]),
                attributes={name: row[name] for name in attribute_names},
                events=[e for e in all_events if e.partner_id == pid],
            )
        )
    return result


class PartnerAt:
    """A partner seen at cutoff t: only events with ts < t, and the small counting helpers."""

    def __init__(self, partner: Partner, t: pd.Timestamp, config: Config) -> None:
        self.partner = partner
        self.t = t
        self.config = config
        self.past = [e for e in partner.events if e.ts < t]
        self.qualifying_types = set(config.labels.qualifying_event_types)

    def qualifying(self, e: Event) -> bool:
        return e.event_type in self.qualifying_types

    def of_type(self, event_type: str) -> Callable[[Event], bool]:
        return lambda e: e.event_type == event_type

    def count(self, keep: Callable[[Event], bool], start: pd.Timestamp, end: pd.Timestamp) -> int:
        return sum(1 for e in self.past if keep(e) and in_window(e.ts, start, end))

    def amount(self, keep: Callable[[Event], bool], start: pd.Timestamp, end: pd.Timestamp) -> float:
        total = 0.0
        for e in self.past:
            if keep(e) and in_window(e.ts, start, end):
                total += e.amount
        return total

    def total_before_t(self, keep: Callable[[Event], bool]) -> float:
        return sum((e.amount for e in self.past if keep(e)), 0.0)

    def number_before_t(self, keep: Callable[[Event], bool]) -> int:
        return sum(1 for e in self.past if keep(e))

    def window(self, days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        return self.t - days * DAY, self.t

    def between_days_ago(self, newest: int, oldest: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[t - oldest d, t - newest d)."""
        return self.t - oldest * DAY, self.t - newest * DAY

    def active_day_periods(self) -> list[int]:
        """Sorted distinct day periods k before t that hold a qualifying event."""
        return sorted({day_period(e.ts, self.t) for e in self.past if self.qualifying(e)})

    def active_days_among(self, periods: range) -> int:
        """How many of the given day periods hold a qualifying event (checked period by period)."""
        active = 0
        for k in periods:
            start, end = self.t - (k + 1) * DAY, self.t - k * DAY
            if any(self.qualifying(e) and in_window(e.ts, start, end) for e in self.past):
                active += 1
        return active

    def days_since_last(self, keep: Callable[[Event], bool]) -> float:
        times = [e.ts for e in self.past if keep(e)]
        return (self.t - max(times)) / DAY if times else NAN

    def days_to_first(self, keep: Callable[[Event], bool]) -> float:
        times = [e.ts for e in self.past if keep(e)]
        return (min(times) - self.partner.signup_at) / DAY if times else NAN

    def tenure_days(self) -> float:
        return (self.t - self.partner.signup_at) / DAY

    def window_revenue(self, days: int) -> float:
        return self.amount(self.of_type("sale"), *self.window(days))


def _trend(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else (a - b) / (a + b)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator != 0 else NAN


def partner_features(p: PartnerAt) -> dict[str, object]:
    """Every feature that depends on the partner alone (not the program-wide revenue shares)."""
    config = p.config
    f = config.features
    t, signup = p.t, p.partner.signup_at
    out: dict[str, object] = {"tenure_days": p.tenure_days()}

    onboarding_end = min(signup + pd.Timedelta(hours=f.onboarding_hours), t)
    out[f"onboarding_events_{f.onboarding_hours}h"] = p.count(p.qualifying, signup, onboarding_end)

    for suffix, event_type in FIRST_EVENT_TYPES.items():
        out[f"days_to_first_{suffix}"] = p.days_to_first(p.of_type(event_type))
    for suffix, event_type in RECENCY_TYPES.items():
        keep = p.qualifying if event_type is None else p.of_type(event_type)
        out[f"days_since_last_{suffix}"] = p.days_since_last(keep)

    for event_type in config.data.event_types:
        for w in f.windows_days:
            out[f"{event_type}_count_{w}d"] = p.count(p.of_type(event_type), *p.window(w))
    for w in f.windows_days:
        out[f"revenue_{w}d"] = p.amount(p.of_type("sale"), *p.window(w))
        out[f"payout_paid_amount_{w}d"] = p.amount(p.of_type("payout_paid"), *p.window(w))
    for w in ACTIVE_DAY_WINDOWS:
        out[f"active_days_{w}"] = p.active_days_among(range(w))

    T = f.trend_window_days
    last, before = p.between_days_ago(0, T), p.between_days_ago(T, 2 * T)
    out[f"activity_trend_{T}d"] = _trend(p.count(p.qualifying, *last), p.count(p.qualifying, *before))
    out[f"click_trend_{T}d"] = _trend(p.count(p.of_type("click"), *last), p.count(p.of_type("click"), *before))
    out[f"revenue_trend_{T}d"] = _trend(p.amount(p.of_type("sale"), *last), p.amount(p.of_type("sale"), *before))

    weeks = f.slope_weeks
    xs = [-float(k) for k in range(weeks)]
    ys = [float(p.active_days_among(range(7 * k, 7 * k + 7))) for k in range(weeks)]
    x_mean, y_mean = sum(xs) / weeks, sum(ys) / weeks
    out[f"weekly_activity_slope_{weeks}w"] = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys)) / sum((x - x_mean) ** 2 for x in xs)

    periods = p.active_day_periods()
    gaps = [float(b - a) for a, b in zip(periods, periods[1:])]
    gap_mean = sum(gaps) / len(gaps) if len(gaps) >= 1 else NAN
    out["active_day_gap_mean"] = gap_mean
    out["active_day_gap_std"] = math.sqrt(sum((g - gap_mean) ** 2 for g in gaps) / len(gaps)) if len(gaps) >= 2 else NAN
    out["recency_to_usual_gap"] = out["days_since_last_activity"] / gap_mean  # NaN in, NaN out

    F = f.funnel_window_days
    clicks = p.count(p.of_type("click"), *p.window(F))
    leads = p.count(p.of_type("lead"), *p.window(F))
    sales = p.count(p.of_type("sale"), *p.window(F))
    out[f"lead_per_click_{F}d"] = _ratio(leads, clicks)
    out[f"sale_per_lead_{F}d"] = _ratio(sales, leads)

    requested = p.total_before_t(p.of_type("payout_requested"))
    paid = p.total_before_t(p.of_type("payout_paid"))
    out["pending_payout_amount"] = max(0.0, requested - paid)
    out["pending_payout_requests"] = max(0, p.number_before_t(p.of_type("payout_requested")) - p.number_before_t(p.of_type("payout_paid")))
    rate = p.partner.attributes.get("commission_rate", NAN)
    rate = NAN if rate is None or pd.isna(rate) else float(rate)
    all_sales = p.total_before_t(p.of_type("sale"))
    out["unpaid_commission"] = NAN if math.isnan(rate) else max(0.0, rate * all_sales - paid)
    return out


@dataclass(frozen=True)
class ProgramAt:
    """Program-wide totals at a cutoff: every partner signed up before t."""

    revenue: dict[int, float]
    """Window (days) -> the program's sale amounts in [t - w d, t)."""
    segment_window_revenue: float
    star_threshold: float


def program_at(partners: list[Partner], t: pd.Timestamp, config: Config) -> ProgramAt:
    members = [PartnerAt(p, t, config) for p in partners if p.signup_at < t]
    windows = set(config.features.revenue_share_windows_days) | {config.segments.revenue_window_days}
    revenue = {w: sum(m.window_revenue(w) for m in members) for w in windows}
    per_partner = np.array([m.window_revenue(config.segments.revenue_window_days) for m in members], dtype=float)
    return ProgramAt(
        revenue=revenue,
        segment_window_revenue=revenue[config.segments.revenue_window_days],
        star_threshold=star_revenue_threshold(per_partner, config.segments),
    )


def _segment(tenure: float, active_30: float, silent: float, revenue: float, program: ProgramAt, config: Config) -> str:
    silent = math.inf if math.isnan(silent) else silent
    (segment,) = assign_segments(
        np.array([tenure]),
        np.array([active_30], dtype=float),
        np.array([silent]),
        np.array([revenue]),
        config.segments,
        program_window_revenue=program.segment_window_revenue,
        star_threshold=program.star_threshold,
    )
    return str(segment)


def segment_at(p: PartnerAt, program: ProgramAt) -> str:
    return _segment(
        p.tenure_days(),
        p.active_days_among(range(30)),
        p.days_since_last(p.qualifying),
        p.window_revenue(p.config.segments.revenue_window_days),
        program,
        p.config,
    )


def downgrade_warning(p: PartnerAt, program: ProgramAt, segment: str) -> bool:
    """Whether the partner's 30-day trends, carried D days forward, move it down the ladder."""
    rules = p.config.segments
    D, W = rules.downgrade_warning_days, rules.revenue_window_days
    a_last = p.active_days_among(range(30))
    a_prev = p.active_days_among(range(30, 60))
    sale = p.of_type("sale")
    r_last = p.amount(sale, *p.between_days_ago(0, D))
    r_prev = p.amount(sale, *p.between_days_ago(D, 2 * D))
    leaving = p.amount(sale, p.t - W * DAY, p.t - W * DAY + D * DAY)
    projected_active = min(max(2 * a_last - a_prev, 0), 30)
    projected_revenue = max(0.0, p.window_revenue(W) - leaving + max(0.0, 2 * r_last - r_prev))
    silent = p.days_since_last(p.qualifying)
    silent = math.inf if math.isnan(silent) else silent
    projected_silent = silent + D if projected_active == 0 else 0.0
    projected = _segment(p.tenure_days() + D, projected_active, projected_silent, projected_revenue, program, p.config)
    return LADDER_RANK[projected] < LADDER_RANK[segment]


def survey_features(surveys: pd.DataFrame | None, partner_id: str, t: pd.Timestamp) -> dict[str, float]:
    """The latest answer before t, it minus the one before, days since it; missing without (two) answers."""
    answers: list[tuple[pd.Timestamp, float]] = []
    if surveys is not None:
        for row in surveys.itertuples():
            if str(row.partner_id) == partner_id and pd.Timestamp(row.ts) < t:
                answers.append((pd.Timestamp(row.ts), float(row.score)))
    answers.sort(key=lambda answer: answer[0])  # stable: answers at one time keep the table's order
    if not answers:
        return {"survey_score_last": NAN, "survey_score_change": NAN, "days_since_last_survey": NAN}
    (when, last), change = answers[-1], (answers[-1][1] - answers[-2][1]) if len(answers) > 1 else NAN
    return {"survey_score_last": last, "survey_score_change": change, "days_since_last_survey": (t - when) / DAY}


def reference_features(
    partners: pd.DataFrame, events: pd.DataFrame, cutoffs: Sequence[pd.Timestamp], config: Config, surveys: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per (cutoff, partner signed up before it): partner_id, as_of, features, segment, downgrade_warning."""
    people = as_partner_list(partners, events, config)
    names = feature_names(config)
    rows = []
    for t in cutoffs:
        t = pd.Timestamp(t)
        program = program_at(people, t, config)
        for person in people:
            if not person.signup_at < t:
                continue
            p = PartnerAt(person, t, config)
            values = partner_features(p)
            for w in config.features.revenue_share_windows_days:
                total = program.revenue[w]
                values[f"revenue_share_{w}d"] = p.window_revenue(w) / total if total != 0 else 0.0
            values.update(person.attributes)
            values.update(survey_features(surveys, person.partner_id, t))
            assert set(values) == set(names), f"reference misses {set(names) - set(values)}, extra {set(values) - set(names)}"
            segment = segment_at(p, program)
            rows.append(
                {
                    "partner_id": person.partner_id,
                    "as_of": t,
                    **{name: values[name] for name in names},
                    "segment": segment,
                    "downgrade_warning": downgrade_warning(p, program, segment),
                }
            )
    return _frame(rows, ["partner_id", "as_of", *names, "segment", "downgrade_warning"])


def reference_labels(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    *,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    """partner_id, as_of, active, deactivated, upgraded, segment, segment_at_horizon, revenue_next_horizon."""
    people = as_partner_list(partners, events, config)
    H, A = config.labels.horizon_days, config.labels.active_window_days
    rows = []
    for t in cutoffs:
        t = pd.Timestamp(t)
        horizon_end = t + H * DAY
        observed = horizon_end <= data_end
        program = program_at(people, t, config)
        program_later = program_at(people, horizon_end, config)
        for person in people:
            if not person.signup_at < t:
                continue
            p = PartnerAt(person, t, config)
            active = p.count(p.qualifying, t - A * DAY, t) > 0
            in_horizon = sum(1 for e in person.events if e.event_type in p.qualifying_types and in_window(e.ts, t, horizon_end))
            deactivated = (1.0 if in_horizon == 0 else 0.0) if active and observed else NAN
            segment = segment_at(p, program)
            later = segment_at(PartnerAt(person, horizon_end, config), program_later) if observed else None
            upgraded = float(LADDER_RANK[later] > LADDER_RANK[segment]) if later is not None else NAN
            revenue = sum(e.amount for e in person.events if e.event_type == "sale" and in_window(e.ts, t, horizon_end))
            rows.append(
                {
                    "partner_id": person.partner_id,
                    "as_of": t,
                    "active": active,
                    "deactivated": deactivated,
                    "upgraded": upgraded,
                    "segment": segment,
                    "segment_at_horizon": later,
                    "revenue_next_horizon": float(revenue) if observed else NAN,
                }
            )
    return _frame(rows, ["partner_id", "as_of", "active", "deactivated", "upgraded", "segment", "segment_at_horizon", "revenue_next_horizon"])


def _frame(rows: list[dict[str, object]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns)
    if rows:
        frame["as_of"] = pd.to_datetime(frame["as_of"], utc=True)
    return frame
