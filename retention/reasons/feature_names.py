"""What a feature's name says about its sentence: the template family that words it, the story it tells
(features with one story give one sentence), and the event type and window its name carries.

Names follow `features.schema` (days_since_last_sale, click_count_30d, click_trend_30d, onboarding_events_72h,
...); a name no pattern knows (a declared attribute of a program's own) has no template of its own and
is worded as "name: value".
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from features.schema import FIRST_EVENT_TYPES, RECENCY_TYPES

PENDING_PAYOUT_AMOUNT = "pending_payout_amount"
"""The amount owed to a partner: it speaks for the whole money-owed story while money is owed."""
SURVEY_SCORE = "survey_score_last"
"""The latest survey answer: it speaks for the whole survey story (with the answer before it and its age)."""


@dataclass(frozen=True)
class FeatureFact:
    """What one feature's name says: how it is worded and which story it tells."""

    family: str
    """Template family."""
    story: str
    """Features with the same story give one sentence."""
    subject: str = ""
    """The event type or trend subject the name carries ('sale', 'click', 'lead_per_click'); empty when none."""
    window: int = 0
    """The window the name carries: days, hours (onboarding) or weeks (weekly slope); 0 when none."""


_FIXED: dict[str, FeatureFact] = {
    "tenure_days": FeatureFact("tenure", "tenure"),
    "active_day_gap_mean": FeatureFact("gap_mean", "gap_mean"),
    "active_day_gap_std": FeatureFact("gap_std", "gap_std"),
    "recency_to_usual_gap": FeatureFact("recency_ratio", "activity"),
    PENDING_PAYOUT_AMOUNT: FeatureFact("pending_amount", "money_owed"),
    "pending_payout_requests": FeatureFact("pending_requests", "money_owed"),
    "unpaid_commission": FeatureFact("unpaid_commission", "money_owed"),
    SURVEY_SCORE: FeatureFact("survey", "survey"),
    "survey_score_change": FeatureFact("survey_change", "survey"),
    "days_since_last_survey": FeatureFact("survey_age", "survey"),
    "partner_type": FeatureFact("partner_type", "attribute:partner_type"),
    "country": FeatureFact("country", "attribute:country"),
    "commission_rate": FeatureFact("commission_rate", "attribute:commission_rate"),
}


def _event_story(event_type: str) -> str:
    return {"activity": "activity", "sale": "sales"}.get(event_type, f"event:{event_type}")


@functools.lru_cache(maxsize=4096)  # a model's feature names, parsed once instead of on every request
def parse_feature(name: str) -> FeatureFact | None:
    """What the feature name says, None for a name no pattern knows (see `template_family`)."""
    if name in _FIXED:
        return _FIXED[name]
    if m := re.fullmatch(r"onboarding_events_(\d+)h", name):
        return FeatureFact("onboarding", "onboarding", window=int(m[1]))
    if (m := re.fullmatch(r"days_to_first_(\w+)", name)) and m[1] in FIRST_EVENT_TYPES:
        return FeatureFact("first_event", f"first:{m[1]}", subject=m[1])
    if (m := re.fullmatch(r"days_since_last_(\w+)", name)) and m[1] in RECENCY_TYPES:
        event_type = RECENCY_TYPES[m[1]] or "activity"
        return FeatureFact("recency", _event_story(event_type), subject=event_type)
    if m := re.fullmatch(r"(activity|click|revenue)_trend_(\d+)d", name):
        return FeatureFact("trend", f"trend:{m[1]}", subject=m[1], window=int(m[2]))
    if m := re.fullmatch(r"weekly_activity_slope_(\d+)w", name):
        return FeatureFact("slope", "trend:activity", window=int(m[1]))
    if m := re.fullmatch(r"revenue_share_(\d+)d", name):
        return FeatureFact("revenue_share", "sales", window=int(m[1]))
    if m := re.fullmatch(r"revenue_(\d+)d", name):
        return FeatureFact("revenue", "sales", window=int(m[1]))
    if m := re.fullmatch(r"payout_paid_amount_(\d+)d", name):
        return FeatureFact("payout_amount", "event:payout_paid", window=int(m[1]))
    if m := re.fullmatch(r"active_days_(\d+)", name):
        return FeatureFact("active_days", "activity", window=int(m[1]))
    if m := re.fullmatch(r"(lead_per_click|sale_per_lead)_(\d+)d", name):
        return FeatureFact("funnel", f"funnel:{m[1]}", subject=m[1], window=int(m[2]))
    if m := re.fullmatch(r"(.+)_count_(\d+)d", name):
        return FeatureFact("count", _event_story(m[1]), subject=m[1], window=int(m[2]))
    return None


def template_family(name: str) -> str | None:
    """The template family that words a feature (recency, count, trend, ...), None if it has none of its own.

    Features without one (a declared attribute this module does not know) are still worded, as
    "name: value".
    """
    fact = parse_feature(name)
    return fact.family if fact else None


def has_template(name: str) -> bool:
    """True when the feature has its own sentence in every language."""
    return parse_feature(name) is not None
