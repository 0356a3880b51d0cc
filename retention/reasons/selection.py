"""Reasons from TreeSHAP: for each row, the features that push the score *up* the most and are worth a
reason slot, each worded with the partner's own number and the typical partner's; and `describe_feature`,
the sentence of any one feature.

For deactivation_risk those are why the partner is at risk; for upgrade_potential, why it may grow.
What is worth a reason slot (a driver that is not is passed over, and the next one speaks; fewer than
k drivers worth a slot give fewer than k reasons, never filler):
- its contribution pushes the score up (above MIN_CONTRIBUTION);
- its value says what the contribution says: for risk a silence of at least MIN_SILENT_DAYS and longer
  than the partner's own usual gap between active days, a fall of a trend or of the weekly slope,
  active on fewer than half of the window's days; for potential the other way round. A rise is never a
  reason for risk, a fall never one to grow, money owed to a partner never a reason to grow;
- its value lies beyond the typical range of the partner's segment, on the side that explains the
  score: past the quartile when the model kept quartiles, else past a band around the median
  (`retention.reasons.typical`);
- it is something an action can change: tenure, partner type, country and other declared attributes
  are not reasons (a commission rate is: the terms can change); the onboarding count and the days to the
  first link, lead or sale are reasons only during the first EARLY_HISTORY_DAYS days in the program,
  after which they are a constant of the partner's past. Tenure is said only inside the onboarding
  sentence of a partner still in its onboarding window ("no activity since sign-up (2 days ago)").
Without a typical value (a model saved before medians were kept, or hand-made calls) only the
direction rules apply.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retention.reasons.feature_names import FeatureFact, parse_feature
from retention.reasons.renderers import (
    MIN_SILENT_DAYS,
    RenderContext,
    Row,
    finite_number,
    nearest_whole,
    render,
    speaking_feature,
    trend_change,
    usual_gap_days,
    whole_days,
)
from retention.reasons.typical import (
    FAMILY_READINGS,
    NEVER_A_REASON,
    Typical,
    beyond_typical,
    sentence_with_typical,
    typical_median,
    typical_value,
)
from retention.wording import check_lang, round_half_up
from training.model import Rows, TrainedModel

MIN_CONTRIBUTION = 1e-6
"""Contributions (log-odds) at or below this are not a reason: float noise, not the model's view."""
EARLY_HISTORY_DAYS = 30
"""Onboarding and first-event facts are reasons during the partner's first this many days; later they
describe a past no action changes."""
_OWED = frozenset({"pending_amount", "pending_requests", "unpaid_commission"})
"""Template families of money owed to the partner."""
_EARLY = frozenset({"onboarding", "first_event"})
"""Template families of the partner's first days in the program."""


def _target_reads_growth(target: str) -> bool:
    if target not in ("deactivation_risk", "upgrade_potential"):
        raise ValueError(f"unknown target {target!r}: expected deactivation_risk or upgrade_potential")
    return target == "upgrade_potential"


def _reads_as_explained(fact: FeatureFact, value: float, row: Row, growth: bool) -> bool:
    """The value itself says what the score says: a silence for risk, not a recent login; a fall, not a rise."""
    family = fact.family
    if family in _OWED:
        return not growth  # money owed to a partner is a grievance, never a reason to grow
    if family in _EARLY:
        tenure = finite_number(row, "tenure_days")
        return tenure is None or tenure < EARLY_HISTORY_DAYS
    if family == "recency" and not growth:
        days = whole_days(value)
        gap = usual_gap_days(row) if fact.subject == "activity" else None
        return days >= MIN_SILENT_DAYS and (gap is None or days > gap)
    if family == "recency_ratio":
        return value > 1 if not growth else value < 1
    if family == "active_days" and not growth:
        return value < fact.window / 2
    if family == "trend":
        _, change = trend_change(value)
        return change >= 0.5 if growth else change <= -0.5
    if family == "slope":
        slope = float(round_half_up(value, 1))
        return slope >= 0.1 if growth else slope <= -0.1
    if family == "gap_std" and not growth:
        return nearest_whole(value) >= 1
    return True


def _worth_a_slot(name: str, fact: FeatureFact | None, row: Row, typical: Typical | None, growth: bool) -> bool:
    """A driver (resolved to its speaker) a manager can act on: see the module docstring."""
    reading = FAMILY_READINGS.get(fact.family, NEVER_A_REASON) if fact else NEVER_A_REASON
    value = finite_number(row, name)
    if reading.risk_side == 0 or fact is None or value is None or not _reads_as_explained(fact, value, row, growth):
        return False
    usual = typical_value(name, row, typical)
    return usual is None or beyond_typical(reading, -reading.risk_side if growth else reading.risk_side, value, usual)


def describe_feature(
    name: str, row: Row, *, target: str, lang: str = "en", covered: Collection[str] = (), typical: Typical | None = None
) -> str | None:
    """One feature of one partner in words, with the partner's own numbers; None when its value says nothing.

    `row` maps feature names to the partner's values (other features of the row fill in details, e.g.
    the usual gap after a recency, the amount owed for the payout requests); `target` decides how a
    direction reads; `covered` names stories already told, which this sentence then leaves out (the
    "usually every N days" clause); `typical` (as `TrainedModel.typical`) adds the typical partner's
    value. Any value is worded, whether or not it would be chosen as a reason.
    """
    check_lang(lang)
    speaker, fact = speaking_feature(name, parse_feature(name), row)
    rendered = render(speaker, fact, row, RenderContext(lang, _target_reads_growth(target), covered))
    if rendered is None:
        return None
    median = typical_median(speaker, row, typical) if fact is not None and FAMILY_READINGS.get(fact.family, NEVER_A_REASON).risk_side else None
    return sentence_with_typical(rendered, fact, median, lang)


def reasons_from_contributions(
    contributions: np.ndarray,
    features: Sequence[str],
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    target: str,
    k: int = 3,
    lang: str = "en",
    typical: Typical | None = None,
) -> list[list[str]]:
    """Up to k sentences per row from per-feature contributions (rows x features, log-odds, no bias).

    Features are taken strongest positive contribution first; one whose story is already told, whose
    value says nothing, or that is not worth a reason slot (see the module docstring: the wrong
    direction, within the typical range of the row's segment in `typical`, or nothing an action
    changes) is passed over. Each sentence gives the typical partner's value when `typical` has it:
    "8 logins in the last 90 days (typical: 25)".
    """
    check_lang(lang)
    growth = _target_reads_growth(target)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    contributions = np.asarray(contributions, dtype=float)
    if contributions.shape != (len(rows), len(features)):
        raise ValueError(f"contributions have shape {contributions.shape}, expected ({len(rows)}, {len(features)})")
    facts = [parse_feature(name) for name in features]
    stories = [fact.story if fact else f"other:{name}" for name, fact in zip(features, facts)]
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else rows
    order = np.argsort(-contributions, axis=1, kind="stable")
    out: list[list[str]] = []
    for i, row in enumerate(records):
        found: list[str] = []
        said: set[str] = set()
        covered: set[str] = set()
        for j in order[i]:
            if contributions[i, j] <= MIN_CONTRIBUTION:
                break
            if stories[j] in covered:
                continue
            speaker, fact = speaking_feature(features[j], facts[j], row)
            if not _worth_a_slot(speaker, fact, row, typical, growth):
                continue
            rendered = render(speaker, fact, row, RenderContext(lang, growth, covered))
            if rendered is None or rendered.text in said:
                continue
            said.add(rendered.text)
            found.append(sentence_with_typical(rendered, fact, typical_median(speaker, row, typical), lang))
            covered |= {stories[j], fact.story if fact else stories[j]} | rendered.covers
            if len(found) == k:
                break
        out.append(found)
    return out


def reasons_for(model: TrainedModel, rows: Rows, *, k: int = 3, lang: str = "en") -> list[list[str]]:
    """Up to k reasons in words per row: what pushes this model's score up for this partner, and is
    worth a manager's attention (see the module docstring), next to the typical partner of its segment.

    For deactivation_risk, why the partner is at risk; for upgrade_potential, why it may grow.
    TreeSHAP is computed once, for these rows only: pass just the rows whose reasons are shown. `rows`
    is a DataFrame or a mapping of column name to values (with `segment`, for the segment's typical values).
    """
    check_lang(lang)
    records = as_records(rows)
    if not records:
        return []
    return reasons_from_contributions(model.contributions(rows), model.features, records, target=model.target, k=k, lang=lang, typical=model.typical)


def as_records(rows: Rows) -> list[dict[str, Any]]:
    """One dict per row, from a DataFrame or a mapping of column name to values."""
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    names = list(rows)
    return [dict(zip(names, values)) for values in zip(*(rows[name] for name in names))]
