"""Actions chosen by what they were measured to save, where the action log has the evidence.

The action table's rules (`retention.actions`) give every partner a primary action by its state. Where
`partner-churn effects` found an action whose per-partner uplift beats random targeting out of time
(`training.uplift.MeasuredActions`), that action is weighed for the partners of the segments it was
measured in: its expected saved revenue is

    uplift (the rise in the chance of staying active over the horizon) x the revenue at stake - its cost,

(an uplift under `effects.min_uplift` counts as none, and so does one of a partner outside the range the log
covers on the features the uplift leans on: `ActionUplift.within_support`), the revenue at stake being the partner's expected horizon revenue, or, for a partner with none yet (a
Sleeper, a Newbie), what the contacted partners of its segment who had none either and stayed active
brought in over the horizon in the log (no such partners in the log: nothing at stake, nothing proposed). The measured action with the largest positive value replaces the rule's action
(`action_basis` = measured, with its `expected_saved_revenue`); everywhere else the rule stays
(`action_basis` = rule, no figure: the log holds no evidence for that partner). Rule actions named in
`effects.keep_rule_actions` are never replaced (money owed comes first, whatever a contact might save).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from retention.actions import ActionTable
from training.uplift import MeasuredActions

MEASURED, RULE = "measured", "rule"
ACTION_BASES = (MEASURED, RULE)
"""The `action_basis` column: the action chosen by its measured saved revenue, or by the table's rules."""


def saved_revenue(columns: Mapping[str, Any], measured: MeasuredActions, table: ActionTable, *, min_uplift: float) -> dict[str, np.ndarray]:
    """Per measured action (that the table defines), each row's expected saved revenue net of the action's cost;
    NaN where the action was not measured in the row's segment, the row lies outside the range the log covers
    (the model's uplift there would be an extrapolation) or its uplift is below `min_uplift`."""
    segment = np.asarray(columns["segment"], dtype=object)
    expected = np.nan_to_num(np.asarray(columns["expected_revenue"], dtype=float), nan=0.0)
    known = {a.code for a in table.actions}
    values: dict[str, np.ndarray] = {}
    for code, model in measured.models.items():
        if code not in known:
            continue  # logged under a code the table does not define: it cannot be given
        value = np.full(segment.size, np.nan)
        rows = np.flatnonzero(np.isin(segment, measured.segments.get(code, [])))
        if rows.size:
            frame = pd.DataFrame({name: np.asarray(columns[name])[rows] for name in model.features})
            inside = model.within_support(frame)
            rows, frame = rows[inside], frame[inside]
        if rows.size:
            kept_revenue = measured.revenue_if_kept.get(code, {})
            fallback = np.array([kept_revenue.get(str(s), 0.0) for s in segment[rows]], dtype=float)
            at_stake = np.where(expected[rows] > 0, expected[rows], fallback)
            uplift = model.uplift(frame)
            value[rows] = np.where(uplift >= min_uplift, uplift * at_stake - table.action(code).cost, np.nan)
        values[code] = value
    return values


def choose_measured_actions(
    columns: Mapping[str, Any],
    actions: Mapping[str, np.ndarray],
    table: ActionTable,
    measured: MeasuredActions | None,
    lang: str,
    *,
    keep_rule_actions: Sequence[str],
    min_uplift: float,
) -> dict[str, np.ndarray]:
    """`actions` (from `action_columns`) with measured actions where they save most, plus `action_basis` and
    `expected_saved_revenue` (NaN for the rule's actions)."""
    n = len(np.asarray(actions["action"]))
    out = {name: np.asarray(values).copy() for name, values in actions.items()}
    out["action_basis"] = np.full(n, RULE, dtype=object)
    out["expected_saved_revenue"] = np.full(n, np.nan)
    if measured is None or not measured.models or n == 0:
        return out
    values = saved_revenue(columns, measured, table, min_uplift=min_uplift)
    if not values:
        return out
    codes = list(values)
    stacked = np.column_stack([np.nan_to_num(values[c], nan=-np.inf) for c in codes])
    best = stacked.argmax(axis=1)
    best_value = stacked[np.arange(n), best]
    replace = (best_value > 0) & ~np.isin(out["action"], list(keep_rule_actions))
    for k, code in enumerate(codes):
        rows = np.flatnonzero(replace & (best == k))
        if not rows.size:
            continue
        action = table.action(code)
        out["action"][rows] = action.code
        out["action_title"][rows] = getattr(action.title, lang)
        out["action_description"][rows] = getattr(action.description, lang)
        out["channel"][rows] = action.channel
        out["owner"][rows] = action.owner
        out["due_in_days"][rows] = action.due_in_days
    out["action_basis"][replace] = MEASURED
    out["expected_saved_revenue"][replace] = best_value[replace]
    return out


def keep_basis_of_given_actions(chosen: Mapping[str, np.ndarray], given: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """After personal contacts were fitted to their minimums and capacity: a measured action that was replaced by
    the segment's automated series is the rule's again (its saved revenue was not the series')."""
    out = dict(given)
    changed = np.asarray(given["action"], dtype=object) != np.asarray(chosen["action"], dtype=object)
    basis = np.asarray(chosen["action_basis"], dtype=object).copy()
    saved = np.asarray(chosen["expected_saved_revenue"], dtype=float).copy()
    basis[changed], saved[changed] = RULE, np.nan
    out["action_basis"], out["expected_saved_revenue"] = basis, saved
    return out
