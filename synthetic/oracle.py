"""The oracle: deactivation risk computed from the generator's own latent truth.

It is the ceiling a model can honestly hope for on generated data (a model above it is leaking), and
the design asks that it stay well short of certainty (ROC-AUC about 0.75-0.90 at a 30-day horizon; at the
design's segment mix it reaches about 0.93, docs/definitions.md says why).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from synthetic import program as simulation
from synthetic.program import DORMANT, EXPLORING, STATES


def oracle_deactivation_risk(latent: pd.DataFrame, as_of: pd.Timestamp, horizon_days: int) -> pd.Series:
    """P(no qualifying event in [as_of, as_of + H)) per partner, from its latent state the day before.

    An awake partner stays silent for H days when every week it neither works (chance w of a working
    week, daily activity chance p in one) nor logs in anyway (p_off), and, if it falls dormant on the
    way (daily hazard h), makes no stray login and does not come back afterwards. A dormant partner stays silent while it
    neither comes back (daily chance c) nor logs in anyway (daily chance p), both fading with time as
    the generator lets them. A partner of a changed program may also leave cleanly (latent column
    `exit_hazard`, present only then), after which it is silent for good. Rates are held at their value
    on the day before the cutoff: what the generator knew then.
    """
    day_before = (as_of - pd.Timedelta(days=1)).date()
    rows = latent[latent["date"] == day_before]
    h = rows["dropout_hazard"].to_numpy(float)
    p = rows["activity_rate"].to_numpy(float)
    c = rows["comeback_rate"].to_numpy(float)
    state = _state_codes(rows["state"])
    dormant = state == DORMANT
    w = rows["working_week_rate"].to_numpy(float)
    p_off = rows["off_week_activity_rate"].to_numpy(float)
    # Partners work in bursts of whole weeks and log in now and then in the weeks they do not work.
    quiet_week = (1 - w) * (1 - p_off) ** 7 + w * (1 - p) ** 7
    quiet_day = quiet_week ** (1 / 7)
    stay_silent_awake = (1 - h) * quiet_day
    k = np.arange(horizon_days)[:, None]
    # Silent after falling dormant on day k: no stray login on any day from k on (the fall day's at full rate,
    # then fading; their rate scales with the partner's own login habit, and a partner that never sold, still
    # exploring, has fewer of them) and no comeback from the next day on. An awake partner's comeback_rate is
    # its rate on the day after it would fall dormant; it decays as the generator's comeback curve does.
    stray_ratio = simulation.STRAY_LOGIN_CHANCE / simulation.OFF_WEEK_LOGIN_CHANCE
    stray = np.clip(p_off * stray_ratio * np.where(state == EXPLORING, simulation.NEVER_PRODUCTIVE_STRAY_FACTOR, 1.0), 0, 0.97)
    since_fall = k  # rows: days since falling dormant, 0 = the fall day
    curve = simulation.COMEBACK_BASE + simulation.COMEBACK_EARLY * np.exp(-since_fall / simulation.COMEBACK_DECAY_DAYS)
    first_day = simulation.COMEBACK_BASE + simulation.COMEBACK_EARLY * np.exp(-1 / simulation.COMEBACK_DECAY_DAYS)
    comes_back = np.where(since_fall >= 1, np.where(dormant, 0.0, c)[None, :] * curve / first_day, 0.0)
    quiet_since_fall = np.cumprod((1 - stray[None, :] * np.exp(-since_fall / simulation.FADE_DAYS)) * (1 - comes_back), axis=0)
    remaining_quiet = quiet_since_fall[horizon_days - 1 - k[:, 0]]  # falling on day k: quiet on days k .. H - 1
    awake_silent = (stay_silent_awake[None, :] ** k * h[None, :] * remaining_quiet).sum(axis=0) + stay_silent_awake**horizon_days
    if "exit_hazard" in rows:
        # A changed program (synthetic/scenarios.py) may have partners leave cleanly (daily chance e): silent
        # from that day on, no stray logins. Staying awake then also means not leaving.
        e = rows["exit_hazard"].to_numpy(float)
        stay = (1 - h - e) * quiet_day
        awake_silent = (stay[None, :] ** k * (h[None, :] * remaining_quiet + e[None, :])).sum(axis=0) + stay**horizon_days
    fade = np.exp(-k[:, 0] / simulation.FADE_DAYS)[:, None]
    come = np.exp(-k[:, 0] / simulation.COMEBACK_DECAY_DAYS)[:, None]
    dormant_silent = np.prod((1 - c[None, :] * come) * (1 - p[None, :] * fade), axis=0)
    risk = np.where(dormant, dormant_silent, awake_silent)
    return pd.Series(risk, index=rows["partner_id"].astype(str).to_numpy(), name="oracle_deactivation_risk")


def _state_codes(state: pd.Series) -> np.ndarray:
    if isinstance(state.dtype, pd.CategoricalDtype) or state.dtype == object:
        return state.astype(str).map({name: code for code, name in enumerate(STATES)}).to_numpy()
    return state.to_numpy()


def oracle_scores(latent_path: Path, cutoffs: list[pd.Timestamp], *, horizon_days: int) -> pd.DataFrame | None:
    """The oracle deactivation risk at the backtest cutoffs (as_of, partner_id, oracle) from a generated
    program's `latent.parquet`; None when the data has no latent truth (a real program). What the CLI
    passes to training as `oracle`."""
    if not latent_path.is_file():
        return None
    days = [(c - pd.Timedelta(days=1)).date() for c in cutoffs]
    latent = pq.read_table(latent_path, filters=[("date", "in", days)]).to_pandas()
    frames = []
    for cutoff in cutoffs:
        risk = oracle_deactivation_risk(latent, cutoff, horizon_days)
        frames.append(pd.DataFrame({"as_of": cutoff, "partner_id": risk.index.to_numpy(), "oracle": risk.to_numpy()}))
    oracle = pd.concat(frames, ignore_index=True)
    oracle["as_of"] = pd.to_datetime(oracle["as_of"], utc=True)
    return oracle
