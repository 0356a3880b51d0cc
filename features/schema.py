"""The one feature schema: every feature's name, type, family and meaning, declared once.

Training, the service's input model and the drift report's column mapping all derive from
`feature_schema(config)`. Definitions (t is the cutoff; only events with ts < t count; "window w" is
[t - w days, t); qualifying events are `labels.qualifying_event_types`):

- tenure_days: (t - signup_at) in days.
Names below use the default windows (features.* in the config sets them).

- onboarding_events_72h: qualifying events with signup_at <= ts < min(signup_at + 72 h, t).
- days_to_first_{link,lead,sale}: days from sign-up to the first link_created / lead / sale, if that
  first event is before t; else missing.
- days_since_last_{activity,login,click,lead,sale,payout,payout_request,training}: days from the last
  such event before t to t (activity = any qualifying event; payout = payout_paid); missing if none.
- {event_type}_count_{w}d: events of that type in window w, for every type in the vocabulary.
- revenue_{w}d: sum of `sale` amounts in window w; payout_paid_amount_{w}d likewise for payouts.
- active_days_{30,90}: how many of the last 30 / 90 day periods [t-(k+1)d, t-kd) hold a qualifying event.
- {activity,click,revenue}_trend_30d: (A - B) / (A + B) with A = last 30 days, B = the 30 days before
  (qualifying events, clicks, sale amounts); 0 when both are 0.
- weekly_activity_slope_12w: least-squares slope, in active days per week, of active days per week over
  the last 12 weeks (week k is [t-7(k+1)d, t-7kd); positive means rising).
- active_day_gap_mean / active_day_gap_std: mean and population standard deviation of the gaps, in
  days, between consecutive active day periods before t (all history); missing with fewer than 2 / 3
  active days.
- recency_to_usual_gap: days_since_last_activity / active_day_gap_mean.
- lead_per_click_90d, sale_per_lead_90d: funnel conversion over 90 days; missing when the denominator is 0.
- pending_payout_amount / pending_payout_requests: requested minus paid payouts before t (amount, count),
  floored at 0.
- unpaid_commission: sale amounts x commission_rate minus paid payouts before t, floored at 0; missing
  without a commission_rate.
- revenue_share_{w}d: the partner's revenue in window w over the whole program's in that window.
- survey_score_last / survey_score_change / days_since_last_survey: the partner's latest answer (0-10)
  to a satisfaction survey before t, that answer minus the one before it, and days since it (the optional
  `surveys` table); missing without an answer (change: without two). A program without surveys cannot
  inform them (`SURVEYS` stands for the table where features name their event types).
- partner_type, country, commission_rate: declared partner attributes, as given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from partner_churn.config import Config
from partner_churn.domain import (
    ACTIVE_DAY_WINDOWS,
    active_days_feature,
    count_feature,
    funnel_feature,
    onboarding_feature,
    payout_amount_feature,
    revenue_feature,
    revenue_share_feature,
    slope_feature,
    trend_feature,
)

FeatureType = Literal["float", "int", "category"]

RECENCY_TYPES: dict[str, str | None] = {
    "activity": None,
    "login": "login",
    "click": "click",
    "lead": "lead",
    "sale": "sale",
    "payout": "payout_paid",
    "payout_request": "payout_requested",
    "training": "training_completed",
}
"""Recency feature suffix -> event type (None: any qualifying event)."""

SALE, PAYOUT_PAID, PAYOUT_REQUESTED = "sale", "payout_paid", "payout_requested"
"""The event types whose meaning features rely on (money in, money out, money asked for)."""

SURVEYS = "surveys"
"""What the survey features are made of, named among event types: a program "has" it when its optional
surveys table holds an answer (`learnable_features`), so a program without surveys leaves them out."""

FIRST_EVENT_TYPES: dict[str, str] = {"link": "link_created", "lead": "lead", "sale": "sale"}
"""days_to_first_<suffix> -> event type."""

CATEGORICAL_ATTRIBUTE_TYPES = {"string", "boolean"}


@dataclass(frozen=True)
class FeatureSpec:
    """One feature column."""

    name: str
    """Column name, the same in frames, files, API fields and reports."""
    kind: FeatureType
    """float (may be missing), int (never missing) or category (declared text attribute)."""
    family: str
    """Group the feature belongs to (tenure, recency, window, trend, ...)."""
    description: str
    """What it measures, in a sentence."""
    may_be_negative: bool = False
    """Trends and slopes run both ways; every other number is a count, amount, duration or share (>= 0)."""
    may_be_missing: bool = False
    """The pipeline leaves it missing when there is nothing to measure (no sale yet: no days since the last
    sale); every other feature always has a value."""
    event_types: tuple[str, ...] = ()
    """Event types the feature is made of; a program without one of them cannot inform it (empty: any
    qualifying event, tenure or a partner attribute)."""


def feature_schema(config: Config) -> list[FeatureSpec]:
    """Every feature, in column order, for this config's windows, vocabulary and declared attributes."""
    f = config.features
    windows = f.windows_days
    specs = [
        FeatureSpec("tenure_days", "float", "tenure", "Days since sign-up."),
        FeatureSpec(
            onboarding_feature(config),
            "int",
            "onboarding",
            f"Qualifying events in the first {f.onboarding_hours} hours after sign-up (before t).",
        ),
    ]
    for suffix, event_type in FIRST_EVENT_TYPES.items():
        specs.append(
            FeatureSpec(
                f"days_to_first_{suffix}",
                "float",
                "onboarding",
                f"Days from sign-up to the first {event_type}; missing if none yet.",
                may_be_missing=True,
                event_types=(event_type,),
            )
        )
    for suffix, recency_type in RECENCY_TYPES.items():
        what = recency_type or "qualifying event"
        specs.append(
            FeatureSpec(
                f"days_since_last_{suffix}",
                "float",
                "recency",
                f"Days since the last {what}; missing if none.",
                may_be_missing=True,
                event_types=(recency_type,) if recency_type else (),
            )
        )
    for event_type in config.data.event_types:
        for w in windows:
            specs.append(
                FeatureSpec(count_feature(event_type, w), "int", "window", f"{event_type} events in the last {w} days.", event_types=(event_type,))
            )
    for w in windows:
        specs.append(FeatureSpec(revenue_feature(w), "float", "window", f"Sale amounts in the last {w} days.", event_types=(SALE,)))
        specs.append(FeatureSpec(payout_amount_feature(w), "float", "window", f"Payouts paid in the last {w} days.", event_types=(PAYOUT_PAID,)))
    for w in ACTIVE_DAY_WINDOWS:
        specs.append(FeatureSpec(active_days_feature(w), "int", "window", f"Days with a qualifying event among the last {w}."))
    for what, source in (("activity", ()), ("click", ("click",)), ("revenue", (SALE,))):
        specs.append(
            FeatureSpec(
                trend_feature(what, config),
                "float",
                "trend",
                f"(last {f.trend_window_days} days - the {f.trend_window_days} before) / (their sum) of {what}; 0 if both 0.",
                may_be_negative=True,
                event_types=source,
            )
        )
    specs += [
        FeatureSpec(
            slope_feature(config),
            "float",
            "trend",
            f"Slope of active days per week over the last {f.slope_weeks} weeks (positive: rising).",
            may_be_negative=True,
        ),
        FeatureSpec(
            "active_day_gap_mean",
            "float",
            "regularity",
            "Mean gap in days between consecutive active days; missing with < 2 active days.",
            may_be_missing=True,
        ),
        FeatureSpec(
            "active_day_gap_std", "float", "regularity", "Standard deviation of those gaps; missing with < 3 active days.", may_be_missing=True
        ),
        FeatureSpec(
            "recency_to_usual_gap",
            "float",
            "regularity",
            "Days since last activity divided by the mean gap; missing without a mean gap.",
            may_be_missing=True,
        ),
        FeatureSpec(
            funnel_feature("lead_per_click", config),
            "float",
            "funnel",
            "Leads per click over the funnel window; missing without clicks.",
            may_be_missing=True,
            event_types=("click", "lead"),
        ),
        FeatureSpec(
            funnel_feature("sale_per_lead", config),
            "float",
            "funnel",
            "Sales per lead over the funnel window; missing without leads.",
            may_be_missing=True,
            event_types=("lead", SALE),
        ),
        FeatureSpec(
            "pending_payout_amount", "float", "money_owed", "Requested minus paid payout amounts, floored at 0.", event_types=(PAYOUT_REQUESTED,)
        ),
        FeatureSpec(
            "pending_payout_requests", "int", "money_owed", "Requested minus paid payouts (count), floored at 0.", event_types=(PAYOUT_REQUESTED,)
        ),
        FeatureSpec(
            "unpaid_commission",
            "float",
            "money_owed",
            "Sales x commission rate minus paid payouts, floored at 0; missing without a commission rate.",
            may_be_missing=True,
            event_types=(SALE,),
        ),
    ]
    for w in config.features.revenue_share_windows_days:
        specs.append(
            FeatureSpec(
                revenue_share_feature(w), "float", "program_share", f"Share of the program's revenue in the last {w} days.", event_types=(SALE,)
            )
        )
    specs += [
        FeatureSpec(
            "survey_score_last",
            "float",
            "survey",
            "The latest satisfaction survey answer (0-10); missing without one.",
            may_be_missing=True,
            event_types=(SURVEYS,),
        ),
        FeatureSpec(
            "survey_score_change",
            "float",
            "survey",
            "The latest survey answer minus the one before it; missing with fewer than two.",
            may_be_negative=True,
            may_be_missing=True,
            event_types=(SURVEYS,),
        ),
        FeatureSpec(
            "days_since_last_survey",
            "float",
            "survey",
            "Days since the latest survey answer; missing without one.",
            may_be_missing=True,
            event_types=(SURVEYS,),
        ),
    ]
    for name, column_type in config.data.partner_attributes.items():
        kind: FeatureType = "category" if column_type in CATEGORICAL_ATTRIBUTE_TYPES else "float"
        specs.append(FeatureSpec(name, kind, "attribute", f"Declared partner attribute {name} ({column_type}).", may_be_missing=True))
    return specs


def learnable_features(schema: Sequence[FeatureSpec], event_types_seen: Iterable[str]) -> list[FeatureSpec]:
    """The features a program's data can tell anything about: those whose source event types all occur in
    it. A sales-only export has no logins, so `login_count_30d` is 0 for everyone: it is left out of the
    model, and so out of the reasons ("0 logins (typical: 0)" would explain nothing)."""
    seen = set(event_types_seen)
    return [spec for spec in schema if set(spec.event_types) <= seen]


def feature_names(config: Config) -> list[str]:
    """Names of the features, in column order."""
    return [spec.name for spec in feature_schema(config)]
