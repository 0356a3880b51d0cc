"""Point-in-time rows of the retention log: each logged action with the partner's segment at the action's
time and what the partner did over the horizon after it.

An action logged at any time of day D is placed at D's UTC midnight: its features (and so its segment) come
from events before that midnight only, and its outcomes from [D, D + H), H = `labels.horizon_days`. An event
on the action's day, before or after the contact, is outcome, never feature: a contact at 15:00 cannot be
explained by a click at 10:00 of the same day without letting the day's own behaviour into the segment. A
partner who signed up after that midnight has no history yet and is a newbie by definition (under 3 months
in the program, no revenue). Outcomes are missing where D + H is after `as_of` or after the data's last event
(the same end `build_labels` is given in training): a horizon not yet seen is not a silent partner.

`silent` is the deactivation label's rule (no qualifying event, `labels.qualifying_event_types`, in the
horizon) applied to every partner contacted, active or not: the onboarding call goes to partners who have
not been active yet, and whether they become active is the point. `revenue` is sale amounts in the horizon.

Everything here is a pure function of frames; `effects` estimates from these rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pipeline import build_features_for
from features.schema import feature_schema
from partner_churn.config import Config
from partner_churn.domain import ACTIVE_DAYS_30, LAST_ACTIVITY, segment_revenue_feature, utc
from partner_churn.errors import InputError

NEWBIE = "newbie"
"""The segment of a partner not yet signed up at the action's midnight."""
NO_BAND = None
"""`risk_band` of a row with no scoring close enough before its day."""


def segment_inputs(config: Config) -> list[str]:
    """The features the segment rules read, kept on each row so the segment can be checked by hand."""
    return ["tenure_days", ACTIVE_DAYS_30, LAST_ACTIVITY, segment_revenue_feature(config)]


def row_columns(config: Config) -> list[str]:
    """Columns of `action_rows`, in order."""
    return ["partner_id", "ts", "day", "action", "holdout", *segment_inputs(config), "segment", "risk_band", "silent", "revenue"]


def action_rows(
    partners: pd.DataFrame,
    events: pd.DataFrame,
    actions: pd.DataFrame,
    as_of: pd.Timestamp,
    config: Config,
    *,
    scores: pd.DataFrame | None = None,
    with_features: bool = False,
    surveys: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per logged action with ts before `as_of` (row_columns; in the log's order; `with_features`:
    then every feature of `feature_schema`, missing for a partner not signed up yet, for the uplift models;
    `surveys`, the contract's optional table, informs the survey features).

    `holdout` is the log's own column (boolean, missing where the log leaves it empty); an actions table
    without that column logged every contact as made, so every row is treated (False). `scores`, when given,
    holds `partner_id`, `as_of` and `risk_band` of earlier scorings (the score history): each row takes the
    band of its partner's latest scoring at or before the action's midnight, at most
    `effects.max_score_age_days` older; otherwise `risk_band` is missing. `silent` (1.0 / 0.0) and `revenue`
    are NaN where the horizon is not observed.
    """
    as_of = utc(as_of)
    logged = actions[actions["ts"] < as_of]
    day = logged["ts"].dt.tz_convert("UTC").dt.floor("D")
    rows = pd.DataFrame(
        {
            "partner_id": logged["partner_id"].astype(str).to_numpy(dtype=object),
            "ts": logged["ts"].dt.tz_convert("UTC").array,
            "day": day.array,
            "action": logged["action"].astype(str).to_numpy(dtype=object),
            "holdout": logged["holdout"].astype("boolean").array if "holdout" in logged else pd.array(np.zeros(len(logged), bool), "boolean"),
        }
    )
    horizon = config.labels.horizon_days
    found = build_features_for(partners, events, rows[["partner_id"]].assign(as_of=rows["day"]), config, horizon_days=horizon, surveys=surveys)
    extra = [spec.name for spec in feature_schema(config) if spec.name not in segment_inputs(config)] if with_features else []
    kept = ["partner_id", "as_of", "signed_up", *segment_inputs(config), *extra, "segment", "qualifying_next_horizon", "revenue_next_horizon"]
    rows = rows.merge(found[kept].rename(columns={"as_of": "day"}), on=["partner_id", "day"], how="left", validate="many_to_one")
    rows["segment"] = rows["segment"].where(rows["signed_up"], NEWBIE)

    end = min(as_of, events["ts"].max()) if len(events) else as_of
    observed = (rows["day"] + pd.Timedelta(days=horizon) <= end).to_numpy()
    rows["silent"] = np.where(observed, (rows["qualifying_next_horizon"] == 0).astype(float), np.nan)
    rows["revenue"] = np.where(observed, rows["revenue_next_horizon"].astype(float), np.nan)
    rows["risk_band"] = _bands_at(rows, scores, config) if scores is not None else pd.Series(NO_BAND, index=rows.index, dtype=object)
    return rows[[*row_columns(config), *extra]]


def _bands_at(rows: pd.DataFrame, scores: pd.DataFrame, config: Config) -> pd.Series:
    """Each row's risk band from its partner's latest scoring at or before the row's day (within the age limit)."""
    missing = [c for c in ("partner_id", "as_of", "risk_band") if c not in scores]
    if missing:
        raise InputError(f"scores: missing column(s) {missing} (expected the score history's partner_id, as_of, risk_band)")
    scored = pd.DataFrame(
        {"partner_id": scores["partner_id"].astype(str), "scored_at": pd.to_datetime(scores["as_of"], utc=True), "risk_band": scores["risk_band"]}
    )
    left = rows[["partner_id", "day"]].reset_index().sort_values("day", kind="stable")
    matched = pd.merge_asof(
        left,
        scored.sort_values("scored_at", kind="stable"),
        left_on="day",
        right_on="scored_at",
        by="partner_id",
        direction="backward",
        allow_exact_matches=True,  # a scoring at the midnight used only events before it
        tolerance=pd.Timedelta(days=config.effects.max_score_age_days),
    )
    return matched.set_index("index")["risk_band"].reindex(rows.index).astype(object).where(lambda s: s.notna(), NO_BAND)
