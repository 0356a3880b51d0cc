"""Reasons in words: why a partner is at risk (or may grow), from its own TreeSHAP contributions.

`reasons_for(model, rows)` computes the model's per-feature contributions once for the rows given
(TreeSHAP costs ~1.9 ms a row, so callers pass only the rows whose reasons are shown), takes for each
row the features that push the score *up* the most, keeps those a manager can act on, and words each
with the partner's own number and the typical partner's, in English or Russian. For
deactivation_risk those are why the partner is at risk; for upgrade_potential, why it may grow.

The package, one subject a module (each imports only those above it here):
- `catalogue`: the templates of both languages and the words they take (data);
- `feature_names`: what a feature's name says: its template family, its story, its event type and window;
- `renderers`: the sentence of one feature, one renderer per template family, with the partner's numbers;
- `typical`: the typical partner of a segment, whether a value lies beyond its range, "(typical: 25)";
- `selection`: which drivers are worth a reason slot (`reasons_for`, `reasons_from_contributions`) and
  `describe_feature`;
- `facts`: reasons from a partner's own facts, without a model (`facts_for`, `fact_features`).
Numbers, plurals and periods come from `retention.wording`.
"""

from __future__ import annotations

from retention.reasons.facts import fact_features, facts_for
from retention.reasons.feature_names import has_template, template_family
from retention.reasons.renderers import MIN_SILENT_DAYS, OWN_EVENTS
from retention.reasons.selection import (
    EARLY_HISTORY_DAYS,
    MIN_CONTRIBUTION,
    as_records,
    describe_feature,
    reasons_for,
    reasons_from_contributions,
)
from retention.reasons.typical import MIN_SLOPE_GAP, MIN_UNITS_FROM_TYPICAL, TYPICAL_FACTOR
from retention.wording import RU_GROUP_SEPARATOR, format_money, format_number, format_percent, plural_ru
from training.model import LOWER_QUARTILE_PREFIX, UPPER_QUARTILE_PREFIX

__all__ = [
    "EARLY_HISTORY_DAYS",
    "LOWER_QUARTILE_PREFIX",
    "MIN_CONTRIBUTION",
    "MIN_SILENT_DAYS",
    "MIN_SLOPE_GAP",
    "MIN_UNITS_FROM_TYPICAL",
    "OWN_EVENTS",
    "RU_GROUP_SEPARATOR",
    "TYPICAL_FACTOR",
    "UPPER_QUARTILE_PREFIX",
    "as_records",
    "describe_feature",
    "fact_features",
    "facts_for",
    "format_money",
    "format_number",
    "format_percent",
    "has_template",
    "plural_ru",
    "reasons_for",
    "reasons_from_contributions",
    "template_family",
]
# format_*, plural_ru and RU_GROUP_SEPARATOR live in retention.wording, the quartile prefixes in training.model (training
# stores the groups); they are named here too for callers of this module.
