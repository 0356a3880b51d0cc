"""The one scoring function: feature columns and the models in, everything a manager acts on out.

Batch scoring (`serving.batch`), the service (`serving.online`) and monitoring call these functions,
so they agree by construction: who is active, both scores, bands and flags, value at risk, the action
and the reasons. Each model stands on its own: a program whose upgrade model could not be trained (or
is not champion) still gets deactivation risk, with potential marked unavailable and why, and the
other way round. The models and value at risk come from the scoring core (`scoring.scores`), actions and
reasons from `retention`. Pure: columns (a frame or a mapping of name to values) in, arrays out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from partner_churn.config import Config
from partner_churn.domain import (
    FIRST_SCORING,
    TREND_ARROWS,
    UNAVAILABLE,
    active_mask,
    onboarding_feature,
    trend_feature,
    utc,
)
from retention.actions import ActionTable, action_columns, bands_and_flags, fit_personal_contacts
from retention.measured import choose_measured_actions, keep_basis_of_given_actions
from retention.reasons import fact_features, facts_for, reasons_for
from scoring.scores import ScoringModels, value_at_risk
from training.model import TrainedModel


def score_columns(
    columns: Mapping[str, Any],
    models: ScoringModels,
    actions: ActionTable,
    config: Config,
    *,
    lang: str,
    typical_workhorse_revenue: float,
) -> dict[str, np.ndarray]:
    """Scores, bands, flags, value at risk and the primary action of every row.

    `columns` hold the model features, `partner_id`, `segment` and `downgrade_warning`. A partner not
    active at the cutoff gets no deactivation risk (band `inactive`); a target whose model is missing gets
    NaN and the band `unavailable` (read as the lowest band by the action table). A personal contact goes
    only to partners worth it (`fit_personal_contacts`); the batch scoring then fits the contacts of the whole
    population to each owner's daily capacity (`serving.batch`). Where the measured actions in force (`models.measured`) save
    more than the rule's action, the measured one is proposed (`action_basis`, `expected_saved_revenue`:
    `retention.measured`).
    """
    n = len(np.asarray(columns["segment"]))
    active = active_mask(columns, config)
    risk = np.full(n, np.nan)
    if models.risk is not None and active.any():
        risk[active] = models.risk.predict(_take(columns, active))
    potential = models.potential.predict(columns) if models.potential is not None else np.full(n, np.nan)
    out: dict[str, np.ndarray] = {"active": active, "deactivation_risk": risk, "upgrade_potential": potential}
    scored = {**columns, **out}
    out |= bands_and_flags(scored, config.scoring, onboarding_column=onboarding_feature(config), trend_column=trend_feature("activity", config))
    if models.risk is None:
        out["risk_band"] = np.where(active, UNAVAILABLE, out["risk_band"]).astype(object)
    if models.potential is None:
        out["potential_band"] = np.full(n, UNAVAILABLE, dtype=object)
    scored |= out
    out |= value_at_risk(scored, config, typical_workhorse_revenue=typical_workhorse_revenue)
    scored |= out
    chosen = choose_measured_actions(
        scored,
        action_columns(scored, actions, lang),
        actions,
        models.measured,
        lang,
        keep_rule_actions=config.effects.keep_rule_actions,
        min_uplift=config.effects.min_uplift,
    )
    out |= keep_basis_of_given_actions(chosen, fit_personal_contacts(scored, chosen, actions, lang, capacity=False))
    return out


@dataclass(frozen=True)
class PreviousScoring:
    """What the latest earlier scoring said of every partner it scored (its entry in the score history):
    what a scoring is compared with."""

    as_of: pd.Timestamp
    rows: pd.DataFrame
    """Indexed by partner_id: segment, deactivation_risk, risk_band, high_band_since (see `serving.history`)."""

    def aligned(self, partner_ids: Any) -> pd.DataFrame:
        """The previous rows of `partner_ids`, in their order; a row of missing values for a partner it did not score."""
        return self.rows.reindex(pd.Index(np.asarray(partner_ids, dtype=object)))


def compare_with_previous(columns: Mapping[str, Any], previous: PreviousScoring | None, as_of: pd.Timestamp, config: Config) -> dict[str, Any]:
    """Each row against the previous scoring: segment then and its change, risk then, its change and trend
    arrow, and since when the partner has been in the high risk band.

    `columns` hold partner_id, segment, deactivation_risk and risk_band of the scoring at `as_of`.
    Without a previous scoring every segment_change is FIRST_SCORING and no risk changed; a partner that
    scoring did not know is 'new'. `high_band_since` is the scoring time the partner entered the high
    band: carried over from the previous scoring while the partner stays high, `as_of` when it enters,
    missing when it is not high; `weeks_in_high_band` counts whole weeks since then.
    """
    n = len(np.asarray(columns["partner_id"]))
    segment = np.asarray(columns["segment"], dtype=object)
    risk = np.asarray(columns["deactivation_risk"], dtype=float)
    high = np.asarray(columns["risk_band"], dtype=object) == "high"
    stamp = utc(as_of)
    if previous is None:
        before_segment = np.full(n, None, dtype=object)
        before_risk = np.full(n, np.nan)
        before_high = np.zeros(n, dtype=bool)
        before_since = pd.DatetimeIndex(np.full(n, pd.NaT), tz="UTC")
        change = np.full(n, FIRST_SCORING, dtype=object)
    else:
        then = previous.aligned(columns["partner_id"])
        before_segment = then["segment"].astype(object).where(then["segment"].notna(), None).to_numpy(dtype=object)
        before_risk = then["deactivation_risk"].to_numpy(dtype=float)
        before_high = (then["risk_band"] == "high").to_numpy()
        before_since = pd.DatetimeIndex(pd.to_datetime(then["high_band_since"], utc=True))
        before_since = before_since.where(before_since.notna() | ~before_high, utc(previous.as_of))
        known = pd.notna(before_segment)
        change = np.where(~known, "new", np.where(before_segment == segment, "same", before_segment.astype(str) + " -> " + segment.astype(str)))
    delta = risk - before_risk
    step = config.scoring.risk_trend_step
    trend = np.where(  # type: ignore[call-overload]  # numpy's stubs refuse None, which np.where takes as an object
        np.isnan(delta), None, np.where(delta >= step, TREND_ARROWS["up"], np.where(delta <= -step, TREND_ARROWS["down"], TREND_ARROWS["steady"]))
    )
    since = before_since.where(high & before_high, stamp).where(high, pd.NaT)
    weeks = np.where(high, np.floor((stamp - since).days.to_numpy(dtype=float, na_value=np.nan) / 7), np.nan)
    return {
        "previous_segment": before_segment,
        "segment_change": change.astype(object),
        "previous_risk": before_risk,
        "risk_change": delta,
        "risk_trend": trend.astype(object),
        "high_band_since": since.array,
        "weeks_in_high_band": weeks,
    }


def explain(
    columns: Mapping[str, Any], models: ScoringModels, config: Config, *, by_model: np.ndarray, lang: str
) -> tuple[list[list[str]], np.ndarray]:
    """Up to `scoring.reasons_per_partner` reasons per row, and their source per row.

    The risk model explains partners in the medium or high risk band; the potential model those with
    high potential. Rows in `by_model` are explained by a model in any case (the risk model if the
    partner is active and its potential is not high, else the potential model). Every other row's action
    follows from segment and flags; its reasons are its own facts (`fact_features`: days since the last
    activity and the last sale, active days, revenue; never tenure), marked 'facts', as are those of a
    row no driver explains. A missing model explains nothing; facts name only what the models read
    (so never an event type the program does not have).
    """
    k = config.scoring.reasons_per_partner
    risk_band = np.asarray(columns["risk_band"], dtype=object)
    potential_high = np.asarray(columns["potential_band"], dtype=object) == "high"
    has_risk, has_potential = models.risk is not None, models.potential is not None
    by_risk = has_risk & (np.isin(risk_band, ["medium", "high"]) | (by_model & ~np.isin(risk_band, ["inactive", UNAVAILABLE]) & ~potential_high))
    by_potential = has_potential & ~by_risk & (potential_high | by_model)
    by_facts = ~(by_risk | by_potential)
    facts = tuple(name for name in fact_features(config) if name in models.features())
    texts: list[list[str]] = [[] for _ in range(len(risk_band))]
    source = np.full(len(risk_band), "facts", dtype=object)

    def explained_by(model: TrainedModel | None) -> Callable[[Mapping[str, Any]], list[list[str]]]:
        def reasons(part: Mapping[str, Any]) -> list[list[str]]:
            assert model is not None, "a model explains rows only when it is loaded (has_risk, has_potential above)"
            return reasons_for(model, part, k=k, lang=lang)

        return reasons

    for rows, found, name in (
        (by_risk, explained_by(models.risk), "risk_model"),
        (by_potential, explained_by(models.potential), "potential_model"),
        (by_facts, lambda part: facts_for(part, k=k, lang=lang, names=facts), "facts"),
    ):
        if rows.any():
            for i, sentences in zip(np.flatnonzero(rows), found(_take(columns, rows))):
                texts[i] = sentences
            source[rows] = name
    unexplained = np.array([not t for t in texts], dtype=bool) & (source != "facts")
    if unexplained.any():  # no contribution pushed the score up: say what the partner's own history says
        for i, sentences in zip(np.flatnonzero(unexplained), facts_for(_take(columns, unexplained), k=k, lang=lang, names=facts)):
            texts[i] = sentences
        source[unexplained] = "facts"
    return texts, source


def _take(columns: Mapping[str, Any], rows: np.ndarray) -> Mapping[str, Any]:
    """The selected rows of a frame or of a mapping of column name to values."""
    if isinstance(columns, pd.DataFrame):
        return columns[rows]
    return {name: np.asarray(values)[rows] for name, values in columns.items()}
