"""The oracle: deactivation risk computed from the generator's own latent truth.

It is the ceiling a model can honestly hope for on generated data (a model above it is leaking), and
the design asks that it stay well short of certainty (ROC-AUC about 0.75-0.90 at a 30-day horizon).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.program import COMEBACK_DECAY_DAYS, DORMANT, FADE_DAYS, STATES, STRAY_LOGIN_CHANCE


def oracle_deactivation_risk(latent: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> pd.Series:
    """P(no qualifying event in [as_of, as_of + H)) per partner, from its latent state the day before.

    An awake partner with daily dropout hazard h, chance w that a week is a working week and daily
    activity chance p in a working week stays silent for H days when it is silent every day while awake and, once dormant, does not come back; a dormant partner
    stays silent while it neither comes back (daily chance c) nor logs in anyway (daily chance p), both
    fading with time as the generator lets them. Rates are held at their value
    on the last day before the cutoff, which is what the generator knew then.
    """
    day_before = (as_of - pd.Timedelta(days=1)).date()
    rows = latent[latent["date"] == day_before]
    h = rows["dropout_hazard"].to_numpy(float)
    p = rows["activity_rate"].to_numpy(float)
    c = rows["comeback_rate"].to_numpy(float)
    dormant = _state_codes(rows["state"]) == DORMANT
    w = rows["working_week_rate"].to_numpy(float)
    quiet_day = ((1 - w) + w * (1 - p) ** 7) ** (1 / 7)  # partners work in bursts of whole weeks
    stay_silent_awake = (1 - h) * quiet_day
    k = np.arange(horizon_days)[:, None]
    # Silent after falling dormant on day k: no stray login and no comeback for the remaining days.
    fresh_dormant_quiet = np.cumprod((1 - STRAY_LOGIN_CHANCE * np.exp(-k[:, 0] / FADE_DAYS)), axis=0)
    remaining_quiet = np.concatenate([[1.0], fresh_dormant_quiet])[horizon_days - 1 - k[:, 0]][:, None]
    awake_silent = (stay_silent_awake[None, :] ** k * h[None, :] * remaining_quiet).sum(axis=0) + stay_silent_awake**horizon_days
    fade = np.exp(-k[:, 0] / FADE_DAYS)[:, None]
    come = np.exp(-k[:, 0] / COMEBACK_DECAY_DAYS)[:, None]
    dormant_silent = np.prod((1 - c[None, :] * come) * (1 - p[None, :] * fade), axis=0)
    risk = np.where(dormant, dormant_silent, awake_silent)
    return pd.Series(risk, index=rows["partner_id"].astype(str).to_numpy(), name="oracle_deactivation_risk")


def _state_codes(state: pd.Series) -> np.ndarray:
    if isinstance(state.dtype, pd.CategoricalDtype) or state.dtype == object:
        return state.astype(str).map({name: code for code, name in enumerate(STATES)}).to_numpy()
    return state.to_numpy()
