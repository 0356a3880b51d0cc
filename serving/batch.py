"""Batch scoring: the registered models and the same feature code -> one scored row per partner.

For every partner signed up before the cutoff: deactivation risk (partners active at the cutoff),
upgrade potential, segment, downgrade warning, bands and flags, value at risk, one primary action,
reasons in words, and what changed since the previous scoring (its entry in the score history:
segment and risk then, the risk's change and trend arrow, since when the partner is in the high band). Sorted so the first rows are where an
hour of a manager's time is worth most. Pure: frames and models in, a frame out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline import build_features
from partner_churn.config import Config
from partner_churn.domain import LAST_ACTIVITY, RISK_LIST_ORDER, revenue_feature, risk_list_order, segment_revenue_feature, window_nearest
from retention.actions import ACTION_COLUMNS, ActionTable, contacts_within_capacity, with_capacity_fallbacks
from retention.measured import keep_basis_of_given_actions
from scoring.scores import ScoringModels, typical_workhorse_revenue, workhorse_revenues
from serving.core import PreviousScoring, compare_with_previous, explain, score_columns
from serving.today import contact_rows

__all__ = [
    "RISK_LIST_COLUMNS",
    "RiskListPlan",
    "ScoringModels",
    "detail_columns",
    "empty_risk_list",
    "finished_part",
    "plan_rows",
    "score_features",
    "score_partners",
    "scored_part",
    "summary_rows",
]

RISK_LIST_COLUMNS = [
    "partner_id",
    "segment",
    "previous_segment",
    "deactivation_risk",
    "risk_band",
    "risk_trend",
    "previous_risk",
    "risk_change",
    "weeks_in_high_band",
    "high_band_since",
    "upgrade_potential",
    "value_at_risk",
    "action",
    "reasons",
    "model_version",
    "trained_through",
    "scored_at",
]
"""The risk list's columns, in the order managers read them; more detail follows them."""


ACTION_FIELDS = [*ACTION_COLUMNS, "personal_contact", "action_basis", "expected_saved_revenue"]
"""The action's columns of a scored row (`action_columns`, `fit_personal_contacts`, `retention.measured`)."""


def detail_columns(config: Config) -> list[str]:
    """The risk list's columns after RISK_LIST_COLUMNS; revenue over about a month and over the segment window."""
    revenue = list(dict.fromkeys([revenue_feature(window_nearest(config, 30)), segment_revenue_feature(config)]))
    return [
        "as_of",
        "reasons_source",
        "segment_change",
        "downgrade_warning",
        "potential_band",
        "expected_revenue",
        *(name for name in ACTION_FIELDS if name != "action"),  # the code is among the first columns
        "commission_overdue",
        "no_onboarding_activity",
        "falling_trend",
        LAST_ACTIVITY,
        *revenue,
        "tenure_days",
    ]


def empty_risk_list(config: Config) -> pd.DataFrame:
    """The risk list of nobody: its columns, no rows."""
    return pd.DataFrame(columns=RISK_LIST_COLUMNS + detail_columns(config))


def score_partners(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous: PreviousScoring | None,
    scored_at: pd.Timestamp | None = None,
    surveys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every partner at `as_of` and compare with `previous` (`serving.history.previous_scoring`; None
    for the first scoring); `surveys` (the contract's optional table) informs the survey features."""
    now = build_features(partners, events, [as_of], config, surveys=surveys)
    return score_features(now, as_of, config, models, actions, previous=previous, scored_at=scored_at)


def score_features(
    now: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous: PreviousScoring | None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """`score_partners` from the program's features at `as_of` (`build_features`): scores, segment changes,
    actions within capacity, reasons, the risk list's order. The whole program as one part of the steps the
    dask engine runs per partition (`scored_part`, `RiskListPlan`, `finished_part`)."""
    if now.empty:
        return empty_risk_list(config)
    part = scored_part(now, as_of, config, models, actions, previous=previous, typical=typical_workhorse_revenue(workhorse_revenues(now, config)))
    plan = RiskListPlan.of([plan_rows(part)], actions)
    return finished_part(part, plan.part(0), config, models, actions, scored_at=scored_at or pd.Timestamp.now(tz="UTC"))


def scored_part(
    now: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    models: ScoringModels,
    actions: ActionTable,
    *,
    previous: PreviousScoring | None,
    typical: float,
) -> pd.DataFrame:
    """What each partner's own row and the program's typical Workhorse revenue decide: scores, bands, value at
    risk, the action with its minimum value (not yet the owners' capacity), the comparison with `previous`.
    `now`: the features of some of the program's partners (all of them, or one partition)."""
    now = now.reset_index(drop=True)
    scored = score_columns(now, models, actions, config, lang=config.scoring.lang, typical_workhorse_revenue=typical)
    added = {name: values for name, values in scored.items() if name != "active" and name not in now.columns}
    now = pd.concat([now, pd.DataFrame(added, index=now.index)], axis=1)
    changes = compare_with_previous(now, previous, as_of, config)
    now = pd.concat([now, pd.DataFrame(changes, index=now.index)], axis=1)
    now["weeks_in_high_band"] = now["weeks_in_high_band"].astype("Int64")
    return now


PLAN_COLUMNS = ["partner_id", "owner", "due_in_days", "personal_contact", *RISK_LIST_ORDER]
"""What the program-wide plan reads of every scored row: the owners' capacity and the risk list's order."""


def plan_rows(part: pd.DataFrame) -> pd.DataFrame:
    """The columns of a `scored_part` that the program-wide plan needs (small: gathered from every partition)."""
    return part[PLAN_COLUMNS]


@dataclass(frozen=True)
class PartPlan:
    """The plan's answers for one part's rows, in the part's row order."""

    rank: np.ndarray
    """Each row's place in the whole risk list (0: first)."""
    due_in_days: np.ndarray
    personal_contact: np.ndarray


@dataclass(frozen=True)
class RiskListPlan:
    """What only the whole program decides, from the `plan_rows` of every part in the program's row order: each
    owner's contacts within their daily capacity (`contacts_within_capacity`) and every row's place in the
    risk list (`risk_list_order`: ties in the program's row order, as one sort of the whole would give)."""

    rank: np.ndarray
    due_in_days: np.ndarray
    personal_contact: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, parts: list[pd.DataFrame], actions: ActionTable) -> RiskListPlan:
        rows = pd.concat(parts, ignore_index=True)
        due, outcome = contacts_within_capacity(rows["partner_id"], rows["value_at_risk"], rows, actions)
        rank = np.empty(len(rows), dtype=np.int64)
        rank[risk_list_order(rows)] = np.arange(len(rows))
        return cls(rank=rank, due_in_days=due, personal_contact=outcome, bounds=np.cumsum([0, *(len(part) for part in parts)]))

    def part(self, k: int) -> PartPlan:
        rows = slice(int(self.bounds[k]), int(self.bounds[k + 1]))
        return PartPlan(rank=self.rank[rows], due_in_days=self.due_in_days[rows], personal_contact=self.personal_contact[rows])


def finished_part(
    part: pd.DataFrame, plan: PartPlan, config: Config, models: ScoringModels, actions: ActionTable, *, scored_at: pd.Timestamp
) -> pd.DataFrame:
    """A `scored_part` with the plan applied: contacts over an owner's capacity get the automated action of the
    segment, rows in risk-list order (`plan.rank`), reasons (by a model for the first
    `scoring.model_reasons_top` rows of the whole list), the models and the scoring time. The risk list's columns."""
    chosen = {name: part[name].to_numpy() for name in ACTION_FIELDS}
    given = with_capacity_fallbacks(chosen, part["segment"], plan.due_in_days, plan.personal_contact, actions, config.scoring.lang)
    given = keep_basis_of_given_actions(chosen, given)
    part = part.assign(**{name: given[name] for name in ACTION_FIELDS})
    order = np.argsort(plan.rank, kind="stable")
    part = part.iloc[order].reset_index(drop=True)
    part["reasons"], part["reasons_source"] = _reasons(part, models, config, by_model=plan.rank[order] < config.scoring.model_reasons_top)
    part["model_version"] = models.version_label(config)
    part["trained_through"] = models.trained_through()
    part["scored_at"] = scored_at
    return part[RISK_LIST_COLUMNS + detail_columns(config)]


TEXT_COLUMNS = ["reasons", "action_title", "action_description"]
"""The risk list's long texts: the partitioned scoring keeps them in the command's process only for the rows
its top files and the report show (`summary_rows`)."""


def summary_rows(finished: pd.DataFrame, rank: np.ndarray, *, text_rows: int) -> pd.DataFrame:
    """A `finished_part` as the report, the top files and the score history read it: every row and column, the
    TEXT_COLUMNS only in rows among the first `text_rows` of the whole list or due a person's contact this
    week (`contact_rows`), empty (None) elsewhere."""
    keep = (np.asarray(rank) < text_rows) | contact_rows(finished).to_numpy()
    summary = finished.copy()
    for name in TEXT_COLUMNS:
        summary[name] = summary[name].where(keep, None)
    return summary


def _reasons(scored: pd.DataFrame, models: ScoringModels, config: Config, *, by_model: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Reasons in words and where they come from, per row.

    TreeSHAP (about 0.3-0.5 ms a row here) is spent where a model score decides what a manager does,
    and on the `by_model` rows (the `scoring.model_reasons_top` rows a manager reads first); see `explain`.
    """
    texts, source = explain(scored, models, config, by_model=by_model, lang=config.scoring.lang)
    return [" | ".join(found) for found in texts], source
