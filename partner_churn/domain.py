"""The domain's definitions, each written once: who is active, the two targets, the names of
window-derived features, risk and potential bands, languages, time (UTC and the valid range) and the
risk list's order.

Every layer imports these instead of spelling a rule again: a second copy of a rule is a bug waiting
for a non-default setting (a 9-month active window honoured in training but not in scoring, a
`login_count_30d` looked up in a program whose windows are 7 and 45 days).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from partner_churn.config import Config, ScoringConfig
from partner_churn.errors import InputError

# --------------------------------------------------------------------------- targets

Target = Literal["deactivation_risk", "upgrade_potential"]
TARGETS: tuple[Target, ...] = ("deactivation_risk", "upgrade_potential")
"""The two models, in the order they are trained, registered and reported."""
LABEL_OF: dict[str, str] = {"deactivation_risk": "deactivated", "upgrade_potential": "upgraded"}
"""Label column of each target."""


def model_name(target: str, config: Config) -> str:
    """Registered model name of a target (training.risk_model_name / potential_model_name)."""
    names = {"deactivation_risk": config.training.risk_model_name, "upgrade_potential": config.training.potential_model_name}
    if target not in names:
        raise InputError(f"unknown target {target!r}; expected one of {sorted(names)}")
    return names[target]


def target_of_model(name: str, config: Config) -> Target | None:
    """The target a registered model name stands for, None for a name of another project."""
    return next((t for t in TARGETS if model_name(t, config) == name), None)


# --------------------------------------------------------------------------- activity

LAST_ACTIVITY = "days_since_last_activity"
"""The feature the active population is read from: days since the last qualifying event."""


def partner_positions(partner_id: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each row's partner in `ids`, -1 for partners not there (categoricals kept cheap: their
    categories are looked up, not every row's string)."""
    if isinstance(partner_id.dtype, pd.CategoricalDtype):
        by_category = ids.get_indexer(partner_id.cat.categories.astype(str))
        codes = partner_id.cat.codes.to_numpy()
        return np.where(codes >= 0, by_category[codes], -1)
    return ids.get_indexer(partner_id.astype(str))


def active_mask(columns: Mapping[str, Any] | pd.DataFrame, config: Config) -> np.ndarray:
    """Active at the cutoff: a qualifying event in [t - labels.active_window_days, t).

    Read from `days_since_last_activity` (missing: never active), so the training rows, batch
    scoring, the service, drift monitoring, the report and the summary name the same partners.
    """
    silent = np.asarray(columns[LAST_ACTIVITY], dtype=float)
    return np.nan_to_num(silent, nan=np.inf) <= config.labels.active_window_days


# --------------------------------------------------------------------------- feature names

ACTIVE_DAY_WINDOWS: tuple[int, ...] = (30, 90)
"""Windows of the active-days features (fixed: the segment rules count active days of the last 30)."""
ACTIVE_DAYS_30 = "active_days_30"
"""Active days among the last 30: what the segment rules call regular and near daily."""


def count_feature(event_type: str, window: int) -> str:
    return f"{event_type}_count_{window}d"


def revenue_feature(window: int) -> str:
    return f"revenue_{window}d"


def payout_amount_feature(window: int) -> str:
    return f"payout_paid_amount_{window}d"


def revenue_share_feature(window: int) -> str:
    return f"revenue_share_{window}d"


def active_days_feature(window: int) -> str:
    return f"active_days_{window}"


def trend_feature(what: str, config: Config) -> str:
    """`{activity,click,revenue}_trend_<trend window>d`."""
    return f"{what}_trend_{config.features.trend_window_days}d"


def onboarding_feature(config: Config) -> str:
    return f"onboarding_events_{config.features.onboarding_hours}h"


def slope_feature(config: Config) -> str:
    return f"weekly_activity_slope_{config.features.slope_weeks}w"


def funnel_feature(step: Literal["lead_per_click", "sale_per_lead"], config: Config) -> str:
    return f"{step}_{config.features.funnel_window_days}d"


def segment_revenue_feature(config: Config) -> str:
    """The revenue feature the segment ladder and value at risk read (segments.revenue_window_days)."""
    return revenue_feature(config.segments.revenue_window_days)


def window_nearest(config: Config, days: int) -> int:
    """The configured feature window closest to `days` (ties: the shorter), for rules that want
    'about a month' whatever windows a program configured."""
    return min(config.features.windows_days, key=lambda w: (abs(w - days), w))


# --------------------------------------------------------------------------- satisfaction

SURVEY_WINDOW_DAYS = 90
"""NPS counts each partner's latest survey answer from this many days before the cutoff; a reason's survey
answer that recent and a detractor's leads the partner's own facts."""
PROMOTER_SCORE, DETRACTOR_SCORE = 9.0, 6.0
"""Net Promoter Score: answers of 9-10 promote, 0-6 detract; NPS = % promoters - % detractors (-100 .. +100)."""

# --------------------------------------------------------------------------- bands

RISK_BANDS: tuple[str, ...] = ("inactive", "low", "medium", "high")
"""Deactivation-risk bands; 'inactive' is a partner not active at the cutoff (no risk is scored)."""
POTENTIAL_BANDS: tuple[str, ...] = ("low", "high")
"""Upgrade-potential bands."""
TREND_ARROWS = {"up": "↑", "down": "↓", "steady": "→"}
"""How a change in deactivation risk since the previous scoring is shown (`scoring.risk_trend_step`)."""
FIRST_SCORING = "first_scoring"
"""`segment_change` of every partner when no earlier scoring exists to compare with."""
UNAVAILABLE = "unavailable"
"""The band of a score whose model is not available (not trained, or not champion): shown as such,
and read as the lowest band by the action table."""


def risk_bands(risk: np.ndarray, scoring: ScoringConfig) -> np.ndarray:
    """'inactive' where no risk is scored (NaN), else low / medium / high by the configured bars."""
    risk = np.asarray(risk, dtype=float)
    return np.select(
        [np.isnan(risk), risk >= scoring.risk_band_high, risk >= scoring.risk_band_medium], ["inactive", "high", "medium"], default="low"
    ).astype(object)


def potential_bands(potential: np.ndarray, scoring: ScoringConfig) -> np.ndarray:
    """'high' at or above scoring.potential_band_high, else 'low'."""
    return np.where(np.asarray(potential, dtype=float) >= scoring.potential_band_high, "high", "low").astype(object)


# --------------------------------------------------------------------------- languages and time

LANGS: tuple[str, ...] = ("en", "ru")
"""Languages of reasons, actions, reports and the spreadsheet."""

VALID_FROM = pd.Timestamp("1970-01-01", tz="UTC")
VALID_UNTIL = pd.Timestamp("2200-01-01", tz="UTC")
"""Timestamps a scoring, a request or a cutoff may name: [VALID_FROM, VALID_UNTIL)."""


def utc(stamp: Any) -> pd.Timestamp:
    """A timestamp in UTC: naive values are UTC, aware ones are converted."""
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_moment(value: str, what: str) -> pd.Timestamp:
    """A date or timestamp a user typed, in UTC and within [VALID_FROM, VALID_UNTIL); an InputError naming
    `what` (e.g. the option) otherwise."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise InputError(f"{what}: cannot read {value!r} as a date or timestamp (use e.g. 2026-07-01)")
    stamp = utc(stamp)
    if not VALID_FROM <= stamp < VALID_UNTIL:
        raise InputError(f"{what}: {value!r} is outside {VALID_FROM:%Y-%m-%d} .. {VALID_UNTIL:%Y-%m-%d}")
    return stamp


EventSpan = tuple[pd.Timestamp, pd.Timestamp]
"""The data's first and last event times."""


def event_span(events: pd.DataFrame) -> EventSpan | None:
    """The data's first and last event times; None when it holds no events."""
    return (events["ts"].min(), events["ts"].max()) if len(events) else None


def combine_spans(spans: Sequence[EventSpan | None]) -> EventSpan | None:
    """The span of the partitions' events together (None: no partition has an event)."""
    found = [span for span in spans if span is not None]
    return (min(span[0] for span in found), max(span[1] for span in found)) if found else None


def check_scoring_date(as_of: pd.Timestamp, span: EventSpan | None, config: Config, *, allow_stale: bool = False) -> None:
    """A scoring date the data can speak for: after its first event and, unless `allow_stale`, at most
    `scoring.max_days_after_last_event` days after its last (an older export shows everyone as silent).
    `span` is the data's `event_span`."""
    if span is None:
        raise InputError("the data holds no events: nothing to score")
    first, last = span
    if as_of <= first:
        raise InputError(
            f"scoring date {as_of:%Y-%m-%d %H:%M} UTC is not after the data's first event ({first:%Y-%m-%d %H:%M} UTC): nothing is known yet"
        )
    limit = config.scoring.max_days_after_last_event
    age = (as_of - last) / pd.Timedelta(days=1)
    if age > limit and not allow_stale:
        raise InputError(
            f"scoring date {as_of:%Y-%m-%d} is {age:.0f} days after the data's last event ({last:%Y-%m-%d %H:%M} UTC), more than "
            f"scoring.max_days_after_last_event ({limit}): the export looks stale and every partner would look silent; export "
            "fresh data, or pass --allow-stale if the program really went quiet"
        )


def days_past_model_age(trained_through: str, moment: pd.Timestamp, config: Config) -> int | None:
    """How many days before `moment` a model's newest label ends (`trained_through`, an ISO date or time),
    when that is more than `scoring.max_model_age_days`; None when the model is fresh enough."""
    age = (moment - pd.Timestamp(trained_through[:10], tz="UTC")).days
    return age if age > config.scoring.max_model_age_days else None


def check_active_partners(scored: pd.DataFrame, as_of: pd.Timestamp, config: Config, *, allow_stale: bool = False) -> int:
    """The number of partners active at `as_of` in a scoring; InputError when there are none, unless
    `allow_stale`: a risk list of nobody would become what later scorings compare with."""
    active = int(active_mask(scored, config).sum()) if len(scored) else 0
    if not active and not allow_stale:
        raise InputError(
            f"no partner is active as of {as_of:%Y-%m-%d} (none has a qualifying event in the {config.labels.active_window_days} "
            f"days before it; {len(scored):,} partners signed up): a risk list of nobody would mislead later scorings; "
            "--allow-stale writes it anyway, marked so that later scorings skip it"
        )
    return active


# --------------------------------------------------------------------------- the risk list's order

RISK_LIST_ORDER: tuple[str, ...] = ("value_at_risk", "deactivation_risk", "upgrade_potential")
"""The risk list is sorted by these, descending, missing last: money at stake first."""


def risk_list_order(frame: pd.DataFrame) -> np.ndarray:
    """The positions of `frame`'s rows in priority order (stable: ties keep the frame's order; missing scores last)."""
    keys = frame[list(RISK_LIST_ORDER)].reset_index(drop=True)
    return keys.sort_values(list(RISK_LIST_ORDER), ascending=False, kind="stable", na_position="last").index.to_numpy()


def sort_risk_list(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in priority order (`risk_list_order`), index 0..n-1."""
    return frame.iloc[risk_list_order(frame)].reset_index(drop=True)
